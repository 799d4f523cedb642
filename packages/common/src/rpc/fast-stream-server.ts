import { Code, ConnectError, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import { endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { EMPTY_END_STREAM, END_STREAM_FLAG, EnvelopeReader, envelope, STREAM_PROTO } from "./envelope-reader.js";
import { routesOfKind, ServerCall } from "./server-call.js";

type Request = Parameters<HttpHandler>[0];
type Response = Parameters<HttpHandler>[1];
type StreamSpec = Extract<MethodImplSpec, { kind: "server_streaming" }>;

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
export function createFastStreamHandler(implementations: readonly ServiceImplSpec[], maxMessageBytes: number): (req: Request, res: Response) => boolean {
  const routes = routesOfKind(implementations, "server_streaming");
  return (req, res) => {
    if (req.method !== "POST" || req.headers["content-type"] !== STREAM_PROTO) return false;
    const encoding = req.headers["connect-content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const spec = routes.get(req.url ?? "");
    if (!spec) return false;
    void serve(spec, req, res, maxMessageBytes);
    return true;
  };
}

async function serve(spec: StreamSpec, req: Request, res: Response, maxMessageBytes: number): Promise<void> {
  const method = spec.method;
  let outputs: AsyncIterator<MessageInitShape<DescMessage>> | undefined;
  const call = new ServerCall(method, req, res, () => void outputs?.return?.().catch(() => {}));
  const ctx = call.ctx;
  let headersSent = false;
  const sendHeaders = () => {
    if (headersSent) return;
    headersSent = true;
    const headers: Record<string, string> = { "content-type": STREAM_PROTO };
    ctx.responseHeaderIfAny?.forEach((value, name) => (headers[name] = value));
    res.writeHead(200, headers);
  };
  let failure: ConnectError | undefined;
  try {
    outputs = await startImplementation(spec, req, ctx, maxMessageBytes);
    for (;;) {
      const next = await outputs.next();
      if (next.done) break;
      sendHeaders();
      const bytes = toBinary(method.output, create(method.output, next.value as MessageInitShape<typeof method.output>));
      if (!res.write(envelope(0, bytes))) await drained(res);
      if (res.destroyed) return;
    }
  } catch (err) {
    failure = ConnectError.from(call.cancelReason ?? err);
  } finally {
    call.finish();
  }
  if (res.destroyed || res.writableEnded) return;
  sendHeaders();
  const trailers = ctx.responseTrailerIfAny;
  call.markAnswered();
  const succeededBare = failure === undefined && (trailers === undefined || isEmpty(trailers));
  res.end(succeededBare ? EMPTY_END_STREAM : envelope(END_STREAM_FLAG, encoder.encode(JSON.stringify(endStreamToJson(trailers ?? new Headers(), failure, {})))));
}

/**
 * Reads the request and starts the implementation on it, in a frame of its
 * own: `serve` waits on the stream for as long as it lasts, and a request
 * in its frame would stay reachable all that time.
 */
async function startImplementation(spec: StreamSpec, req: Request, ctx: ServerCall["ctx"], maxMessageBytes: number): Promise<AsyncIterator<MessageInitShape<DescMessage>>> {
  const input = await readRequest(req, spec.method.input, maxMessageBytes);
  return spec.impl(input, ctx)[Symbol.asyncIterator]();
}

/** Reads the one request envelope of a server-streaming call. */
async function readRequest<I extends DescMessage>(req: Request, schema: I, maxMessageBytes: number): Promise<MessageShape<I>> {
  const reader = new EnvelopeReader(maxMessageBytes);
  let message: MessageShape<I> | undefined;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    for (const { flags, data } of reader.push(chunk)) {
      if (flags !== 0 || message !== undefined) throw new ConnectError("expected exactly one request message", Code.InvalidArgument);
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
