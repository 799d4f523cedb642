/**
 * Anthropic's error envelope:
 * `{"type":"error","error":{"type":"not_found_error","message":"..."},"request_id":"..."}`.
 * The `error.type` follows from the HTTP status the way Anthropic documents
 * it, so a client that branches on either sees what Anthropic would send.
 */

/** The `error.type` values used, by HTTP status. */
const TYPE_BY_STATUS: ReadonlyMap<number, string> = new Map([
  [400, "invalid_request_error"],
  [401, "authentication_error"],
  [402, "billing_error"],
  [403, "permission_error"],
  [404, "not_found_error"],
  [413, "request_too_large"],
  [429, "rate_limit_error"],
  [500, "api_error"],
  // Anthropic's "temporarily overloaded" is 529; the mesh says 503 for an unavailable service.
  [503, "overloaded_error"],
  [504, "timeout_error"],
  [529, "overloaded_error"],
]);

/**
 * The `error.type` for an HTTP status: Anthropic uses `invalid_request_error`
 * for any 4xx it does not list, and `api_error` for any other 5xx.
 */
export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS.get(status) ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

/**
 * The response header Anthropic's API carries its request id in, on every
 * answer (the SDK exposes it as `_request_id` and `APIError.requestID`). The
 * value is opaque to clients: Anthropic's look like `req_011CS...`, ours is
 * the gateway's request id, the same as in `x-request-id` and `request_id`.
 */
export const REQUEST_ID_HEADER = "request-id";

/** Anthropic's error body. */
export type AnthropicErrorJson = {
  type: "error";
  error: { type: string; message: string };
  request_id: string | null;
};

/** The error body for a status and message; `requestId` is echoed as Anthropic does. */
export function anthropicErrorToJson(status: number, message: string, requestId: string | null): AnthropicErrorJson {
  return { type: "error", error: { type: anthropicErrorType(status), message }, request_id: requestId };
}
