import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { fromBinary, toBinary, type Message, type MessageShape } from "@bufbuild/protobuf";
import { abortError, cannotAbort, deadlineError } from "./call-signal.js";
import { endOfStream, unavailable } from "./call-errors.js";
import { MuxCallBase, sendOn } from "./mux-call.js";
import { END_STREAM_FLAG, EnvelopeReader, envelope, STREAM_PROTO } from "./envelope-reader.js";
import { rpcPath } from "./unary-path.js";
import { firstMessage } from "./request-messages.js";
import { transportFrom } from "./transport-calls.js";
import { PushedMessages } from "../stream-iterators.js";
import { peerAddress, type MuxPeer } from "./mux-client.js";

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL } = http2.constants;

/** Settings of the fast streaming client. */
export interface FastStreamOptions {
  maxMessageBytes: number;
  interceptors?: Interceptor[];
  defaultTimeoutMs?: number;
  /** The peer's multiplexed connection, used when it speaks it; without it, streams go over HTTP/2. */
  mux?: MuxPeer;
}

/**
 * One cleartext HTTP/2 connection to a peer, reopened after it closes or is
 * told to go away. Every stream to that peer shares it: ten thousand open
 * streams cost one socket, not ten thousand.
 */
class PeerSession {
  #session: http2.ClientHttp2Session | undefined;

  constructor(
    private readonly origin: string,
    private readonly host: string,
    private readonly port: number,
  ) {}

  get(): http2.ClientHttp2Session {
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.origin, {
      // Room for thousands of concurrent streams; Node's default (10 MB)
      // makes it reset the whole session under load.
      maxSessionMemory: 512,
      settings: { enablePush: false, initialWindowSize: 1 << 20 },
      // Nagle's algorithm would hold small frames for the peer's delayed ACK.
      createConnection: () => net.connect({ host: this.host, port: this.port, noDelay: true }),
    });
    const forget = () => {
      if (this.#session === session) this.#session = undefined;
    };
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", forget);
    this.#session = session;
    return session;
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}

/**
 * The client side of the streaming hot path: Connect server-streaming calls
 * with binary envelopes on a raw HTTP/2 stream, each message decoded the
 * moment its bytes arrive. Interceptors, deadlines and cancellation (which
 * resets the HTTP/2 stream, and so cancels the work on the server) behave as
 * on any transport.
 */
export function createFastStreamClient(baseUrl: string, options: FastStreamOptions) {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/$/, "");
  const { host, port } = peerAddress(url);
  const peer = new PeerSession(url.origin, host, port);
  const limit = options.maxMessageBytes;
  const mux = options.mux;

  const call = async (req: StreamRequest, deadline: number | undefined): Promise<StreamResponse> => {
    const method = req.method;
    const request = await firstMessage(req.message);
    const body = toBinary(method.input, request);
    if (body.byteLength > limit) throw new ConnectError(`message larger than ${limit} bytes`, Code.ResourceExhausted);
    // The call's headers as both transports send them; HTTP/2 adds its own below.
    const headers: Record<string, string> = { ":path": prefix + rpcPath(method) };
    req.header.forEach((value, name) => (headers[name] = value));
    if (deadline !== undefined) headers["connect-timeout-ms"] = String(deadline);
    // A signal that fired already (before the call, or while its request was
    // read) fires no 'abort' event for the listener below: nothing would ever
    // cancel the stream, so it is not sent at all.
    if (req.signal.aborted) throw abortError(req.signal);
    const multiplexed = mux === undefined ? undefined : await mux.connection();
    if (multiplexed !== undefined) {
      if (req.signal.aborted) throw abortError(req.signal);
      // The same call as over HTTP/2 (headers, messages, the end with its error and trailers, cancellation, backpressure).
      return sendOn(multiplexed, headers, body, new MuxCall(req.method, req.signal, url.origin, deadline));
    }
    headers[":method"] = "POST";
    headers["content-type"] = STREAM_PROTO;
    headers["connect-protocol-version"] = "1";

    let stream: http2.ClientHttp2Stream;
    try {
      stream = peer.get().request(headers);
    } catch (err) {
      throw new ConnectError(`cannot reach ${url.origin}: ${(err as Error).message}`, Code.Unavailable, undefined, undefined, err);
    }
    // Errors surface through the response and the message iteration below.
    stream.on("error", () => {});
    const cancel = () => stream.close(NGHTTP2_CANCEL);
    if (!cannotAbort(req.signal)) req.signal.addEventListener("abort", cancel, { once: true });
    // The call's own deadline: reset the stream, which then ends as expired.
    let expired: ConnectError | undefined;
    const deadlineTimer =
      deadline === undefined
        ? undefined
        : setTimeout(() => {
            expired = deadlineError(deadline);
            cancel();
          }, deadline);
    /** Why the stream ended early: its deadline, its caller, or else `otherwise`. */
    const endedBy = (otherwise: () => ConnectError) => expired ?? (req.signal.aborted ? abortError(req.signal) : otherwise());
    stream.end(envelope(0, body));

    const stopListening = () => {
      req.signal.removeEventListener("abort", cancel);
      clearTimeout(deadlineTimer);
    };
    const responseHeaders = await new Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>((resolve, reject) => {
      // Once the headers are in, a later close is the end of the stream, not
      // a failure to report here: no error (and no stack trace) is built for it.
      const onError = (err: Error) => reject(endedBy(() => unavailable(url.origin, err)));
      const onClose = () => reject(endedBy(() => unavailable(url.origin, new Error(`stream closed (code ${stream.rstCode})`))));
      stream.once("response", (headers) => {
        stream.off("error", onError);
        stream.off("close", onClose);
        resolve(headers);
      });
      stream.once("error", onError);
      stream.once("close", onClose);
    }).catch((err: unknown) => {
      stopListening();
      throw err;
    });
    const status = Number(responseHeaders[HTTP2_HEADER_STATUS]);
    const header = new Headers();
    for (const [name, value] of Object.entries(responseHeaders)) {
      if (typeof value === "string" && name[0] !== ":") header.set(name, value);
    }
    if (status !== 200 || header.get("content-type") !== STREAM_PROTO) {
      stopListening();
      const bytes = await readAll(stream, limit);
      const fallback = new ConnectError(`HTTP ${status} from ${url.origin}`, codeFromHttpStatus(status));
      throw header.get("content-type")?.startsWith("application/json") ? errorFromJsonBytes(bytes, undefined, fallback) : fallback;
    }
    const trailer = new Headers();
    const reader = new EnvelopeReader(limit);
    // No more messages will be taken: the final envelope arrived, or the
    // stream failed. The stream is still read to its natural end (the data
    // handler stays on, discarding) — see `stop` for why.
    let over = false;
    const messages = new PushedMessages<MessageShape<typeof method.output>>({
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      stop: () => abandon(),
    });
    /** Stops a stream we leave early. */
    const abandon = () => {
      over = true;
      stopWatching();
      // Reset only a stream we leave early. Resetting one the server has
      // already ended counts as an invalid frame, and after 1000 of those
      // Node's server drops the whole connection.
      if (!stream.closed) cancel();
    };
    const failure = (err: unknown) => endedBy(() => (err instanceof ConnectError ? err : unavailable(url.origin, err)));
    const onData = (chunk: Buffer) => {
      if (over) return;
      try {
        for (const { head, data } of reader.push(chunk)) {
          if ((head[0]! & END_STREAM_FLAG) === END_STREAM_FLAG) {
            over = true;
            stopListening();
            const end = endOfStream(data);
            end.metadata.forEach((value, name) => trailer.set(name, value));
            if (end.error) messages.fail(end.error);
            else messages.end();
            // Whatever the consumer still has queued, the rest of the stream is only its end: let it come.
            stream.resume();
            return;
          }
          messages.push(fromBinary(method.output, data));
        }
      } catch (err) {
        messages.fail(failure(err));
        abandon();
      }
    };
    const onEnd = () => {
      stopWatching();
      if (over) return;
      over = true;
      messages.fail(endedBy(() => new ConnectError(`the stream from ${url.origin} ended without its final message`, Code.Unavailable)));
    };
    const onLost = (err?: unknown) => {
      stopWatching();
      if (over) return;
      over = true;
      messages.fail(failure(err ?? new Error(`stream closed (code ${stream.rstCode})`)));
    };
    const onClose = () => onLost();
    const stopWatching = () => {
      stopListening();
      stream.off("end", onEnd);
      stream.off("error", onLost);
      stream.off("close", onClose);
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onLost);
    stream.on("close", onClose);
    return { stream: true, service: method.parent, method, header, trailer, message: messages };
  };

  const { stream } = transportFrom({ baseUrl, interceptors: options.interceptors, defaultTimeoutMs: options.defaultTimeoutMs, stream: call });
  return {
    stream,
    close: () => peer.close(),
  };
}

/** One call's side of a multiplexed stream: what arrives becomes its response and messages. Nothing it keeps for as long as the stream lasts holds the request's bytes. */
class MuxCall extends MuxCallBase<StreamResponse> {
  #messages: PushedMessages<Message> | undefined;
  // Made when read: most callers read neither, and a stream holds them for as long as it lasts.
  #received: Record<string, string> | undefined;
  #header: Headers | undefined;
  #trailer: Headers | undefined;

  constructor(
    readonly method: StreamRequest["method"],
    signal: AbortSignal,
    origin: string,
    deadlineMs: number | undefined,
  ) {
    super(signal, origin, deadlineMs);
  }

  headers(received: Record<string, string>): void {
    if (this.over || this.#messages) return;
    this.#received = received;
    const stream = this.stream;
    this.#messages = new PushedMessages({
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      stop: () => {
        this.finish();
        stream.cancel();
      },
    });
    this.resolve(new MuxResponse(this, this.#messages));
  }

  /** The response headers, as the stream's Headers frame gave them. */
  header(): Headers {
    if (this.#header === undefined) {
      this.#header = new Headers();
      for (const [name, value] of Object.entries(this.#received ?? {})) this.#header.set(name, value);
      this.#received = undefined;
    }
    return this.#header;
  }

  /** The trailers: filled in when the stream ends, as on any transport. */
  trailer(): Headers {
    return (this.#trailer ??= new Headers());
  }

  message(bytes: Buffer): void {
    if (this.over || !this.#messages) return;
    try {
      this.#messages.push(fromBinary(this.method.output, bytes));
    } catch (err) {
      this.stream.cancel();
      this.fail(new ConnectError(`cannot decode ${this.method.output.typeName} from ${this.origin}`, Code.Internal, undefined, undefined, err));
    }
  }

  end(endOfStreamJson: Buffer): void {
    if (this.over) return;
    const end: { metadata?: Headers; error?: ConnectError } = endOfStreamJson.length === 0 ? {} : endOfStream(endOfStreamJson);
    if (this.#trailer === undefined) this.#trailer = end.metadata;
    else end.metadata?.forEach((value, name) => this.#trailer?.set(name, value));
    if (end.error) return this.fail(end.error);
    const messages = this.#messages;
    if (!messages) return this.fail(new ConnectError(`the stream from ${this.origin} ended without its headers`, Code.Unavailable));
    this.finish();
    messages.end();
  }

  /** Once the stream has started, its failure ends its messages. */
  protected override failed(err: unknown): void {
    if (this.#messages) this.#messages.fail(err);
    else this.reject(err);
  }
}

/** What a multiplexed call resolves to: its header and trailer made only when read. */
class MuxResponse implements StreamResponse {
  readonly stream = true;

  constructor(
    private readonly call: MuxCall,
    readonly message: PushedMessages<Message>,
  ) {}

  get method(): StreamResponse["method"] {
    return this.call.method;
  }
  get service(): StreamResponse["service"] {
    return this.call.method.parent;
  }
  get header(): Headers {
    return this.call.header();
  }
  get trailer(): Headers {
    return this.call.trailer();
  }
}

async function readAll(stream: http2.ClientHttp2Stream, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

