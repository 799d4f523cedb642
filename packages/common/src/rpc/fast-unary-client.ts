import { Code, ConnectError, type Interceptor, type Transport, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Pool } from "undici";
import { requestBuffered, ResponseTooLargeError } from "../buffered-request.js";
import { rpcPath, UNARY_PROTO } from "./unary-path.js";
import { abortError, cannotAbort } from "./call-signal.js";
import { transportFrom } from "./transport-calls.js";

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
}

/** A transport with a `close()` that releases its connections. */
export type ClosableTransport = Transport & { close(): Promise<void> };

/**
 * The client side of the hot path: Connect unary calls with binary messages
 * over a pool of kept-alive HTTP/1.1 connections (undici), one buffer each
 * way (`requestBuffered`: no body stream). Measured several times cheaper
 * per call than the general HTTP/2 client; streaming calls go to
 * `streaming`, which keeps them multiplexed.
 * Interceptors, deadlines and cancellation behave as on any transport.
 */
export function createFastUnaryTransport(baseUrl: string, options: FastUnaryTransportOptions): ClosableTransport {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/$/, "");
  const pool = new Pool(url.origin, { connections: options.connections ?? 32, pipelining: 1, keepAliveTimeout: 30_000 });
  const limit = options.maxMessageBytes;

  const call = async (req: UnaryRequest, deadline: number | undefined): Promise<UnaryResponse> => {
    const method = req.method;
    const body = toBinary(method.input, req.message);
    if (body.byteLength > limit) throw new ConnectError(`message larger than ${limit} bytes`, Code.ResourceExhausted);
    const headers: Record<string, string> = { "content-type": UNARY_PROTO, "connect-protocol-version": "1" };
    req.header.forEach((value, name) => (headers[name] = value));
    if (deadline !== undefined) headers["connect-timeout-ms"] = String(deadline);
    let response;
    try {
      // Listening on the shared never-firing signal would pile up listeners for nothing.
      const signal = cannotAbort(req.signal) ? undefined : req.signal;
      // headersTimeout/bodyTimeout 0: the call's own deadline bounds it. undici's
      // defaults (300 s) would cut a long non-streamed generation and look retryable.
      const request = { method: "POST", path: prefix + rpcPath(method), headers, body, headersTimeout: 0, bodyTimeout: 0 } as const;
      response = await requestBuffered(pool, request, signal, limit);
    } catch (err) {
      if (req.signal.aborted) throw abortError(req.signal);
      if (err instanceof ResponseTooLargeError) throw new ConnectError(`message larger than ${limit} bytes`, Code.ResourceExhausted);
      throw new ConnectError(`cannot reach ${url.origin}: ${(err as Error).message}`, Code.Unavailable, undefined, undefined, err);
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
    close: () => pool.close(),
  };
}
