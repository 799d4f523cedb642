import type { OutgoingHttpHeaders } from "node:http";
import { REQUEST_ID_HEADER } from "@llmmesh/anthropic-wire";
import { Header } from "@llmmesh/common";
import type { ApiError } from "./api-error.js";
import { OPENAI_DIALECT, type Dialect } from "./dialect.js";
import type { GatewayResponse } from "./http.js";
import type { RequestContext } from "./request-context.js";

/** Response headers a browser client may read (CORS hides all but a few otherwise). */
const EXPOSED_HEADERS = [
  Header.RequestId,
  REQUEST_ID_HEADER,
  Header.ServedBy,
  Header.Attempts,
  Header.OverheadMs,
  Header.RetryAfter,
  Header.RetryAfterMs,
].join(", ");

/** Headers on every gateway response: CORS and the request id, also under the dialect's own name for it. */
export function commonHeaders(ctx: RequestContext, dialect: Dialect = OPENAI_DIALECT): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": EXPOSED_HEADERS,
    [Header.RequestId]: ctx.requestId,
  };
  if (dialect.requestIdHeader !== undefined) headers[dialect.requestIdHeader] = ctx.requestId;
  return headers;
}

/** Writes a complete compact-JSON response. */
export function writeJson(
  res: GatewayResponse,
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers?: OutgoingHttpHeaders,
  dialect: Dialect = OPENAI_DIALECT,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...commonHeaders(ctx, dialect),
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
  writeJson(res, ctx, error.status, dialect.errorBody(error, ctx.requestId), headers, dialect);
}

/** Ends a response with no body. */
export function writeEmpty(res: GatewayResponse, ctx: RequestContext, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...commonHeaders(ctx), ...headers });
  ctx.markEnded();
  res.end();
}
