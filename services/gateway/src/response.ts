import type { OutgoingHttpHeaders } from "node:http";
import { Header } from "@llmmesh/common";
import type { ApiError } from "./api-error.js";
import { OPENAI_DIALECT, type Dialect } from "./dialect.js";
import type { GatewayResponse } from "./http.js";
import type { RequestContext } from "./request-context.js";

/** Response headers a browser client may read (CORS hides all but a few otherwise). */
const EXPOSED_HEADERS = [Header.RequestId, Header.ServedBy, Header.Attempts, Header.OverheadMs, Header.RetryAfter, Header.RetryAfterMs].join(", ");

/** Headers on every gateway response: CORS and the request id. */
export function commonHeaders(ctx: RequestContext): OutgoingHttpHeaders {
  return {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": EXPOSED_HEADERS,
    [Header.RequestId]: ctx.requestId,
  };
}

/** Writes a complete compact-JSON response. */
export function writeJson(
  res: GatewayResponse,
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers?: OutgoingHttpHeaders,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...commonHeaders(ctx),
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  ctx.markEnded();
  res.end(text);
}

/** Writes an error as a complete response in the client API's envelope (OpenAI's unless told). */
export function writeApiError(
  res: GatewayResponse,
  ctx: RequestContext,
  error: ApiError,
  closeConnection = false,
  dialect: Dialect = OPENAI_DIALECT,
): void {
  const headers: OutgoingHttpHeaders = { ...error.headers };
  // Only HTTP/1 has connection headers; setting one on HTTP/2 is a protocol error.
  if (closeConnection && ctx.isHttp1) headers.connection = "close";
  writeJson(res, ctx, error.status, dialect.errorBody(error, ctx.requestId), headers);
}

/** Ends a response with no body. */
export function writeEmpty(res: GatewayResponse, ctx: RequestContext, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...commonHeaders(ctx), ...headers });
  ctx.markEnded();
  res.end();
}
