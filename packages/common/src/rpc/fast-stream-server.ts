import { Code, ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import { endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { EMPTY_END_STREAM, END_STREAM_FLAG, EnvelopeReader, envelope, STREAM_PROTO } from "./envelope-reader.js";
import { ServerCall } from "./server-call.js";
import { sendEach, type SendOutcome } from "../message-flow.js";

type Request = Parameters<HttpHandler>[0];
type Response = Parameters<HttpHandler>[1];

const encoder = new TextEncoder();

/**
 * The streaming half of the hot path: Connect server-streaming calls with
 * binary messages (HTTP/1.1 or HTTP/2), each message written as its
 * envelope the moment the implementation yields it, with backpressure. The
 * general handler's per-message stream plumbing costs several times more
 * (measured in bench/: time to first token and CPU per stream). Bytes on
 * the wire are the Connect protocol's; anything else goes to the general
 * handler.
 */
export function createFastStreamHandler(routes: ReadonlyMap<string, StreamSpec>, maxMessageBytes: number): (req: Request, res: Response) => boolean {
  return (req, res) => {
    if (req.method !== "POST" || req.headers["content-type"] !== STREAM_PROTO) return false;
    const encoding = req.headers["connect-content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const spec = routes.get(req.url ?? "");
    if (!spec) return false;
    const call = ServerCall.onResponse(spec.method, req, res);
    void serveStream(spec, call, responseAnswer(res), maxMessageBytes, startImplementation(spec, readRequest(req, spec.method.input, maxMessageBytes), call.ctx));
    return true;
  };
}

/** A server-streaming implementation, as routed. */
export type StreamSpec = Extract<MethodImplSpec, { kind: "server_streaming" }>;

/**
 * Where the answer of a streaming call goes: a Node response (Connect's
 * envelopes), or a stream of one of the mesh's multiplexed connections.
 */
export interface StreamAnswer {
  /** True once the caller is gone or the answer has ended: nothing more is sent. */
  readonly over: boolean;
  /** Sends the response headers (once, before anything else). */
  head(headers: Record<string, string>): void;
  /** Sends one encoded message; a promise means: wait for it before the next. */
  message(bytes: Uint8Array): Promise<void> | undefined;
  /** Ends the answer: with Connect's end-of-stream JSON, or, for a success without trailers, nothing. */
  end(endOfStream: Uint8Array | undefined): void;
}

/**
 * Runs one server-streaming call: each message is sent the moment the
 * implementation yields it, with backpressure, then the end of the stream
 * with its error and trailers. A caller hanging up stops the implementation.
 */
export async function serveStream(spec: StreamSpec, call: ServerCall, answer: StreamAnswer, maxMessageBytes: number, started: Promise<Outputs>): Promise<void> {
  const method = spec.method;
  const ctx = call.ctx;
  let headersSent = false;
  const sendHeaders = () => {
    if (headersSent) return;
    headersSent = true;
    const headers: Record<string, string> = { "content-type": STREAM_PROTO };
    ctx.takeResponseHeader()?.forEach((value, name) => (headers[name] = value));
    answer.head(headers);
  };
  // Each message is sent the moment it arrives, through calls (sendEach):
  // a promise per message would wait from one message to the next, long
  // enough to be promoted to old space, and keep the message it resolves
  // with alive until the next full collection (with thousands of slow
  // streams, most of the garbage of the router and the adapter).
  // What it returns: whether to go on, or the wait before the next message.
  const send = (message: MessageInitShape<DescMessage>): SendOutcome => {
    sendHeaders();
    const bytes = toBinary(method.output, create(method.output, message as MessageInitShape<typeof method.output>));
    if (bytes.byteLength > maxMessageBytes) throw new ConnectError(`message larger than ${maxMessageBytes} bytes`, Code.ResourceExhausted);
    const wait = answer.message(bytes);
    return wait === undefined ? !answer.over : wait.then(() => !answer.over);
  };
  let failure: ConnectError | undefined;
  try {
    const outputs = await started;
    if (call.cancelReason !== undefined) {
      void outputs.return?.().catch(() => {});
      throw call.cancelReason;
    }
    const sending = sendEach(outputs, send);
    call.onCancel = () => sending.stop();
    if ((await sending.finished) === "stopped") {
      if (answer.over) return;
      // Stopped by a cancellation the caller may still hear (its deadline): the end says so.
      if (call.cancelReason !== undefined) failure = ConnectError.from(call.cancelReason);
    }
  } catch (err) {
    failure = ConnectError.from(call.cancelReason ?? err);
  } finally {
    call.finish();
  }
  if (answer.over) return;
  sendHeaders();
  const trailers = ctx.responseTrailerIfAny;
  call.markAnswered();
  const succeededBare = failure === undefined && (trailers === undefined || isEmpty(trailers));
  answer.end(succeededBare ? undefined : encoder.encode(JSON.stringify(endStreamToJson(trailers ?? new Headers(), failure, {}))));
}

type Outputs = AsyncIterator<MessageInitShape<DescMessage>>;

/**
 * Starts the implementation on the request once it is read. The caller
 * hands `serveStream` only the promise of the outputs: `serveStream` waits
 * on the stream for as long as it lasts, and a request (or what it was read
 * from) in its frame would stay reachable all that time.
 */
export async function startImplementation(spec: StreamSpec, input: Promise<MessageShape<DescMessage>> | MessageShape<DescMessage>, ctx: ServerCall["ctx"]): Promise<Outputs> {
  const request = await input;
  return spec.impl(request, ctx)[Symbol.asyncIterator]();
}

/** A Node response as a stream's answer: Connect's envelopes. */
function responseAnswer(res: Response): StreamAnswer {
  return {
    get over() {
      return res.destroyed || res.writableEnded;
    },
    head: (headers) => void res.writeHead(200, headers),
    message: (bytes) => (res.write(envelope(0, bytes)) ? undefined : drained(res)),
    end: (endOfStream) => void res.end(endOfStream === undefined ? EMPTY_END_STREAM : envelope(END_STREAM_FLAG, endOfStream)),
  };
}

/** Reads the one request envelope of a server-streaming call. */
export async function readRequest<I extends DescMessage>(req: Request, schema: I, maxMessageBytes: number): Promise<MessageShape<I>> {
  const reader = new EnvelopeReader(maxMessageBytes);
  let message: MessageShape<I> | undefined;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    for (const { head, data } of reader.push(chunk)) {
      if (head[0] !== 0 || message !== undefined) throw new ConnectError("expected exactly one request message", Code.InvalidArgument);
      try {
        message = fromBinary(schema, data);
      } catch (err) {
        throw new ConnectError(`cannot decode ${schema.typeName}`, Code.InvalidArgument, undefined, undefined, err);
      }
    }
  }
  if (message === undefined || reader.pending) throw new ConnectError("expected exactly one request message", Code.InvalidArgument);
  return message;
}

/** Resolves when the response can take more, or when the caller went away. */
function drained(res: Response): Promise<void> {
  // A response already closed sends neither event: waiting would hold the call until its deadline.
  if (res.closed || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function isEmpty(headers: Headers): boolean {
  for (const _ of headers.keys()) return false;
  return true;
}
