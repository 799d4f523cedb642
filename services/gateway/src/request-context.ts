import { randomUUID } from "node:crypto";
import type { CallOptions } from "@connectrpc/connect";
import { bearerToken, Header } from "@llmmesh/common";
import type { GatewayRequest, GatewayResponse } from "./http.js";

/** Anthropic's API key header. */
const ANTHROPIC_API_KEY_HEADER = "x-api-key";

/** A client-sent request id we are willing to echo: short and printable ASCII, so it is safe in headers and logs. */
const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

/**
 * Everything about one REST request that outlives a single step: its id,
 * the caller's credentials to pass on, and the cancellation that follows the
 * client. Created before routing, so even a 404 carries the request id.
 */
export class RequestContext {
  /** Echoed in `x-request-id` and sent to the router. */
  readonly requestId: string;
  readonly method: string;
  /** The URL path without the query string, undecoded. */
  readonly path: string;
  /** HTTP/1.x needs `connection` headers; HTTP/2 forbids them. */
  readonly isHttp1: boolean;
  /** `performance.now()` when the request arrived: where the mesh's own time starts. */
  readonly startedAt = performance.now();
  /** The caller's bearer token, kept only to scrub it from error messages. */
  readonly apiKey: string | undefined;
  /** Headers and signal for every router call made for this request. */
  readonly callOptions: CallOptions;
  readonly #abort = new AbortController();
  #ended = false;

  constructor(req: GatewayRequest, res: GatewayResponse) {
    const sentId = req.headers[Header.RequestId];
    this.requestId = typeof sentId === "string" && ACCEPTABLE_REQUEST_ID.test(sentId) ? sentId : randomUUID();
    this.method = req.method ?? "GET";
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    this.path = query === -1 ? url : url.slice(0, query);
    this.isHttp1 = req.httpVersionMajor < 2;

    const headers: Record<string, string> = { [Header.RequestId]: this.requestId };
    const authorization = callerAuthorization(req);
    // Passed on unchanged: deciding what it means is policy's job, not the edge's.
    if (authorization !== undefined) headers[Header.Authorization] = authorization;
    this.apiKey = bearerToken(authorization);
    this.callOptions = { headers, signal: this.#abort.signal };

    // A response that closes before we ended it means the client went away:
    // cancel the router call, which cancels every hop down to the upstream socket.
    res.on("close", () => {
      if (!this.#ended) this.#abort.abort();
    });
  }

  /** Aborted when the client disconnects before the response is complete. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** True once the client has gone: nothing written now would reach it. */
  get clientGone(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Records that the response was ended by us, so its 'close' is not a disconnect. */
  markEnded(): void {
    this.#ended = true;
  }
}

/**
 * The caller's credentials as an `authorization` value: the header itself,
 * or else Anthropic's `x-api-key` (what Anthropic's SDKs before 1.0 and curl
 * examples send) as a bearer token, so policy sees one kind of key.
 */
function callerAuthorization(req: GatewayRequest): string | undefined {
  const authorization = req.headers[Header.Authorization];
  if (typeof authorization === "string") return authorization;
  const apiKey = req.headers[ANTHROPIC_API_KEY_HEADER];
  return typeof apiKey === "string" && apiKey !== "" ? `Bearer ${apiKey}` : undefined;
}
