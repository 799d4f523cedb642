import type { Dispatcher } from "undici";
import { Code, ConnectError } from "@connectrpc/connect";
import { meshError, oneMessage, Reason, requestBuffered } from "@llmmesh/common";
import { UpstreamPool } from "./upstream-pool.js";

/** An upstream HTTP response whose body has not been read yet. */
export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body stream; whoever receives the response must consume or destroy it. */
  readonly body: Dispatcher.ResponseData["body"];
}

/** An upstream HTTP response read to its end. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: UpstreamResponse["headers"];
  readonly text: string;
}

/** One HTTP request to an upstream, fully described. */
export interface UpstreamRequest {
  readonly method: "GET" | "POST";
  /** Absolute URL (base URL + endpoint path + the base URL's query). */
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Cancels the request and closes its socket. */
  readonly signal: AbortSignal;
  /** Longest wait for the response headers, and longest silence between body bytes. */
  readonly timeoutMs: number;
}

/** Decodes bodies as undici's `text()` does (a byte-order mark is dropped). */
const UTF8 = new TextDecoder();

/** Idle keep-alive sockets are closed after this long; upstreams (OpenAI: ~60 s) close theirs later. */
const KEEP_ALIVE_MS = 30_000;

/**
 * Keeps one undici connection pool per upstream origin, with keep-alive, so
 * requests reuse warm (TLS) connections. Pools survive config revisions as
 * long as some provider still points at their origin; `retainOrigins` closes
 * the others gracefully (requests in flight finish first).
 */
export class UpstreamClient {
  readonly #pools = new Map<string, UpstreamPool>();

  /**
   * Sends a request and returns once its headers arrive, for answers read as
   * they come (streams); a transport failure becomes a mesh error (see `transportFailure`).
   */
  async send(request: UpstreamRequest, provider: string): Promise<UpstreamResponse> {
    try {
      const response = await this.#pool(request.url.origin).request({ ...dispatchOptions(request), ...releasedOnceSent(request), signal: request.signal });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      throw transportFailure(err, provider, request.signal);
    }
  }

  /** Sends a request and reads its whole answer, with no body stream in between; failures as for `send`. */
  async fetch(request: UpstreamRequest, provider: string): Promise<UpstreamAnswer> {
    try {
      const response = await requestBuffered(this.#pool(request.url.origin), dispatchOptions(request), request.signal);
      return { status: response.status, headers: response.headers, text: UTF8.decode(response.body) };
    } catch (err) {
      throw transportFailure(err, provider, request.signal);
    }
  }

  /** Closes the pools of origins not in `origins`. */
  retainOrigins(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      void pool.close().catch(() => undefined);
    }
  }

  /** Closes every pool, letting requests in flight finish. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => undefined)));
  }

  #pool(origin: string): UpstreamPool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new UpstreamPool(origin, { keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: 10 * KEEP_ALIVE_MS });
      this.#pools.set(origin, pool);
    }
    return pool;
  }
}

function dispatchOptions(request: UpstreamRequest): Dispatcher.DispatchOptions {
  return {
    method: request.method,
    path: request.url.pathname + request.url.search,
    headers: request.headers,
    body: request.body,
    // Why both: non-streamed answers arrive only when generation ends (bounded by
    // the headers timeout); streams may last long but must not go silent.
    headersTimeout: request.timeoutMs,
    bodyTimeout: request.timeoutMs,
  };
}

/**
 * The body as an iterable that lets go of its bytes once undici has taken
 * them, with their length as content-length (the bytes on the wire are the
 * same). undici keeps a request's body, as a string and as a Buffer, until
 * its answer ends: for a stream that is its whole length, and with long
 * prompts and many open streams those copies were most of the adapter's memory.
 */
function releasedOnceSent(request: UpstreamRequest): Pick<Dispatcher.DispatchOptions, "body" | "headers"> {
  if (request.body === undefined) return {};
  const bytes = Buffer.from(request.body);
  // undici takes any iterable body (docs/api/Dispatcher.md, `body`); its types list only the other kinds.
  const body = oneMessage(bytes) as unknown as Dispatcher.DispatchOptions["body"];
  return { body, headers: { ...request.headers, "content-length": String(bytes.byteLength) } };
}

/** Reads a whole response body as text; a failure while reading becomes a mesh error. */
export async function readBodyText(response: UpstreamResponse, provider: string, signal: AbortSignal): Promise<string> {
  try {
    return await response.body.text();
  } catch (err) {
    throw transportFailure(err, provider, signal);
  }
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);
const NETWORK_MESSAGES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed by the upstream",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "response cut short",
};

/**
 * Turns a failure of the HTTP exchange (not an HTTP error status) into a mesh
 * error: our caller cancelled → Canceled; our caller's deadline or the
 * provider's timeout → DeadlineExceeded (upstream_timeout); anything on the
 * wire → Unavailable (upstream_unavailable), which the router may retry.
 * Messages name the provider, never its URL or credentials.
 */
export function transportFailure(err: unknown, provider: string, signal: AbortSignal): ConnectError {
  if (signal.aborted) {
    const reason = signal.reason instanceof ConnectError ? signal.reason : undefined;
    if (reason?.code === Code.DeadlineExceeded) {
      return meshError(Code.DeadlineExceeded, `provider "${provider}" did not answer before the deadline`, { reason: Reason.UpstreamTimeout, provider });
    }
    return new ConnectError(`request to provider "${provider}" was cancelled`, Code.Canceled);
  }
  if (err instanceof ConnectError) return err; // already a mesh error
  const code = errorCode(err);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return meshError(Code.DeadlineExceeded, `provider "${provider}" timed out`, { reason: Reason.UpstreamTimeout, provider });
  }
  if (code === "UND_ERR_INVALID_ARG") {
    return meshError(Code.FailedPrecondition, `request to provider "${provider}" is invalid (check its headers in config)`, {
      reason: Reason.Internal,
      provider,
    });
  }
  const what = (code !== undefined ? NETWORK_MESSAGES[code] : undefined) ?? "network error";
  return meshError(Code.Unavailable, `provider "${provider}" is unreachable: ${what}`, { reason: Reason.UpstreamUnavailable, provider });
}

/** The `code` of a Node or undici error, looking through causes and aggregate errors. */
function errorCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== "object" || err === null || depth > 3) return undefined;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === "string") return code;
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0], depth + 1);
  return errorCode(cause, depth + 1);
}
