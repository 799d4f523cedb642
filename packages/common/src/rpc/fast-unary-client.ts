import { Code, ConnectError, type Interceptor, type Transport, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Pool } from "undici";
import { requestBuffered, ResponseTooLargeError } from "../buffered-request.js";
import { rpcPath, UNARY_PROTO } from "./unary-path.js";
import { abortError, callSignal, cannotAbort, firesInTime } from "./call-signal.js";
import { transportFrom } from "./transport-calls.js";
import { endOfStream } from "./call-errors.js";
import { MuxCallBase, sendOn } from "./mux-call.js";
import type { MuxPeer } from "./mux-client.js";

/** Settings of a fast unary transport. */
export interface FastUnaryTransportOptions {
  /** Largest message sent or accepted. */
  maxMessageBytes: number;
  interceptors?: Interceptor[];
  /** Deadline for calls that set none. */
  defaultTimeoutMs?: number;
  /** Carries every streaming call. */
  streaming: Pick<Transport, "stream">;
  /** Kept-alive connections to the peer. */
  connections?: number;
  /** The peer's multiplexed connection, used when it speaks it; without it, calls go over HTTP/1.1. */
  mux?: MuxPeer;
}

/** A transport with a `close()` that releases its connections. */
export type ClosableTransport = Transport & { close(): Promise<void> };

/**
 * The client side of the hot path: Connect unary calls with binary messages,
 * on the peer's multiplexed connection (a stream of one message, no HTTP
 * parsing on either side, frames of concurrent calls written together), or
 * over a pool of kept-alive HTTP/1.1 connections (undici), one buffer each
 * way (`requestBuffered`: no body stream), to a peer that does not speak
 * it. Both measured several times cheaper per call than the general HTTP/2
 * client; streaming calls go to `streaming`.
 * Interceptors, deadlines and cancellation behave as on any transport.
 */
export function createFastUnaryTransport(baseUrl: string, options: FastUnaryTransportOptions): ClosableTransport {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/$/, "");
  // Made, and undici loaded, on the first call that needs it: most peers speak
  // the multiplexed connection, and loading undici costs a process about 5 MiB of heap.
  let pool: Promise<Pool> | undefined;
  const http1Pool = () =>
    (pool ??= import("undici").then(({ Pool }) => new Pool(url.origin, { connections: options.connections ?? 32, pipelining: 1, keepAliveTimeout: 30_000 })));
  const limit = options.maxMessageBytes;
  const mux = options.mux;

  const call = async (req: UnaryRequest, deadline: number | undefined): Promise<UnaryResponse> => {
    const method = req.method;
    const body = toBinary(method.input, req.message);
    if (body.byteLength > limit) throw new ConnectError(`message larger than ${limit} bytes`, Code.ResourceExhausted);
    const pending = mux?.connection();
    const multiplexed = pending instanceof Promise ? await pending : pending;
    if (multiplexed !== undefined) {
      // Checked here as a stream checks it: a signal that fired already fires no 'abort' event.
      if (req.signal.aborted) throw abortError(req.signal);
      const headers: Record<string, string> = { ":path": prefix + rpcPath(method) };
      req.header.forEach((value, name) => (headers[name] = value));
      if (deadline !== undefined) headers["connect-timeout-ms"] = String(deadline);
      return sendOn(multiplexed, headers, body, new MuxUnaryCall(req.method, req.signal, url.origin, deadline));
    }
    const headers: Record<string, string> = { "content-type": UNARY_PROTO, "connect-protocol-version": "1" };
    req.header.forEach((value, name) => (headers[name] = value));
    if (deadline !== undefined) headers["connect-timeout-ms"] = String(deadline);
    // undici takes a signal: one that also fires at the deadline.
    const cancellation = callSignal(req.signal, deadline, "unary");
    let response;
    try {
      // Listening on the shared never-firing signal would pile up listeners for nothing.
      const signal = cannotAbort(cancellation.signal) ? undefined : cancellation.signal;
      // headersTimeout/bodyTimeout 0: the call's own deadline bounds it. undici's
      // defaults (300 s) would cut a long non-streamed generation and look retryable.
      const request = { method: "POST", path: prefix + rpcPath(method), headers, body, headersTimeout: 0, bodyTimeout: 0 } as const;
      response = await requestBuffered(await http1Pool(), request, signal, limit);
    } catch (err) {
      if (cancellation.signal.aborted) throw abortError(cancellation.signal);
      if (err instanceof ResponseTooLargeError) throw new ConnectError(`message larger than ${limit} bytes`, Code.ResourceExhausted);
      throw new ConnectError(`cannot reach ${url.origin}: ${(err as Error).message}`, Code.Unavailable, undefined, undefined, err);
    } finally {
      cancellation.done();
    }
    const bytes = response.body;
    const header = new Headers();
    const trailer = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (typeof value !== "string") continue;
      if (name.startsWith("trailer-")) trailer.set(name.slice(8), value);
      else header.set(name, value);
    }
    if (response.status === 200 && header.get("content-type") === UNARY_PROTO) {
      return { stream: false, service: method.parent, method, header, trailer, message: fromBinary(method.output, bytes) };
    }
    const fallback = new ConnectError(`HTTP ${response.status} from ${url.origin}`, codeFromHttpStatus(response.status));
    throw header.get("content-type")?.startsWith("application/json") ? errorFromJsonBytes(bytes, undefined, fallback) : fallback;
  };

  const { unary } = transportFrom({ baseUrl, interceptors: options.interceptors, defaultTimeoutMs: options.defaultTimeoutMs, unary: call });
  return {
    unary,
    stream: (...args) => options.streaming.stream(...args),
    close: async () => {
      await (await pool)?.close();
    },
  };
}

/** One unary call's side of a multiplexed stream: the headers, the one message, then the end with its trailers or error. */
class MuxUnaryCall extends MuxCallBase<UnaryResponse> {
  #headers: Record<string, string> | undefined;
  #message: Buffer | undefined;

  constructor(
    private readonly method: UnaryRequest["method"],
    signal: AbortSignal,
    origin: string,
    deadlineMs: number | undefined,
  ) {
    // No timer of its own when the caller's signal fires in time.
    super(signal, origin, deadlineMs !== undefined && !firesInTime(signal, deadlineMs) ? deadlineMs : undefined);
  }

  headers(received: Record<string, string>): void {
    this.#headers = received;
  }

  message(bytes: Buffer): void {
    if (this.over) return;
    if (this.#message === undefined) {
      this.#message = bytes;
      return;
    }
    this.stream.cancel();
    this.fail(new ConnectError(`${this.origin} answered a unary call with more than one message`, Code.Internal));
  }

  end(endOfStreamJson: Buffer): void {
    if (this.over) return;
    this.finish();
    const end = endOfStreamJson.length === 0 ? undefined : endOfStream(endOfStreamJson);
    if (end?.error) return this.reject(end.error);
    const bytes = this.#message;
    if (bytes === undefined) return this.reject(new ConnectError(`${this.origin} ended a unary call without its message`, Code.Internal));
    const method = this.method;
    let message;
    try {
      message = fromBinary(method.output, bytes);
    } catch (err) {
      return this.reject(new ConnectError(`cannot decode ${method.output.typeName} from ${this.origin}`, Code.Internal, undefined, undefined, err));
    }
    this.resolve(new MuxUnaryResponse(method, message, this.#headers, end?.metadata));
  }
}

/** What a multiplexed unary call resolves to: its header and trailer made only when read (most callers read neither). */
class MuxUnaryResponse implements UnaryResponse {
  readonly stream = false;
  #header: Headers | undefined;

  constructor(
    readonly method: UnaryRequest["method"],
    readonly message: UnaryResponse["message"],
    private readonly received: Record<string, string> | undefined,
    private trailers: Headers | undefined,
  ) {}

  get service(): UnaryResponse["service"] {
    return this.method.parent;
  }
  get header(): Headers {
    return (this.#header ??= headersOf(this.received));
  }
  get trailer(): Headers {
    return (this.trailers ??= new Headers());
  }
}

/** The response headers of a Headers frame, without the content type a stream's answer carries. */
function headersOf(received: Record<string, string> | undefined): Headers {
  const header = new Headers();
  for (const name in received) {
    if (name !== "content-type") header.set(name, received[name]!);
  }
  return header;
}
