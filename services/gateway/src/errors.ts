import { Code, ConnectError } from "@connectrpc/connect";
import { errorDetailOf, Header, Reason } from "@llmmesh/common";
import type { ErrorDetail } from "@llmmesh/proto";
import { WireError } from "@llmmesh/openai-wire";
import { ApiError, ErrorType } from "./api-error.js";

/** How one Connect code looks to a REST client when no detail says otherwise. */
interface Mapping {
  readonly status: number;
  readonly type: string;
  /** The OpenAI `code` used when the error's reason does not name a better one. */
  readonly code: string | null;
}

/**
 * The gateway's own Connect code → HTTP table (Connect's is private, and an
 * OpenAI client expects different statuses anyway, e.g. 429 not 503 for a
 * rate limit). Codes missing here become a generic 500: FailedPrecondition,
 * for one, is what services use for their own misconfiguration, which is no
 * business of the client's (the log has it).
 */
const BY_CODE: ReadonlyMap<Code, Mapping> = new Map([
  [Code.InvalidArgument, { status: 400, type: ErrorType.InvalidRequest, code: null }],
  [Code.Unauthenticated, { status: 401, type: ErrorType.Authentication, code: "invalid_api_key" }],
  [Code.PermissionDenied, { status: 403, type: ErrorType.Permission, code: "permission_denied" }],
  [Code.NotFound, { status: 404, type: ErrorType.InvalidRequest, code: "model_not_found" }],
  // What an upstream 409 becomes (codeForUpstreamStatus).
  [Code.Aborted, { status: 409, type: ErrorType.InvalidRequest, code: "conflict" }],
  [Code.ResourceExhausted, { status: 429, type: ErrorType.RateLimit, code: "rate_limit_exceeded" }],
  // 499 is nginx's "client closed request": by the time it is chosen the client is usually gone.
  [Code.Canceled, { status: 499, type: ErrorType.InvalidRequest, code: "request_canceled" }],
  [Code.Unimplemented, { status: 501, type: ErrorType.InvalidRequest, code: "not_implemented" }],
  [Code.Unavailable, { status: 503, type: ErrorType.Api, code: "service_unavailable" }],
  [Code.DeadlineExceeded, { status: 504, type: ErrorType.Api, code: "timeout" }],
]);

const TOO_LARGE: Mapping = { status: 413, type: ErrorType.InvalidRequest, code: "request_too_large" };
/** An upstream's 422: the SDKs have their own class for it (UnprocessableEntityError). */
const UNPROCESSABLE: Mapping = { status: 422, type: ErrorType.InvalidRequest, code: null };
const UPSTREAM_FAILED: Mapping = { status: 502, type: ErrorType.Api, code: "upstream_error" };
/**
 * Upstream 5xx statuses passed on as they are (an overloaded upstream's 503
 * stays a 503); any other upstream failure (a 2xx we could not read, a
 * provider that refused the mesh's own key) is a 502.
 */
const UPSTREAM_FAILED_AS_SENT: ReadonlyMap<number, Mapping> = new Map(
  [500, 502, 503].map((status) => [status, { ...UPSTREAM_FAILED, status }]),
);

/** Reasons too vague to be a better `code` than the table's (the status already says "upstream"). */
const GENERIC_REASONS: ReadonlySet<string> = new Set([Reason.InvalidRequest, Reason.Internal, Reason.UpstreamError, ""]);
/** Reasons whose OpenAI spelling differs, so clients that test `code` keep working. */
const REASON_AS_CODE: ReadonlyMap<string, string> = new Map([[Reason.RateLimited, "rate_limit_exceeded"]]);

/** What the client is told, and what the log gets (never the client). */
export interface MappedError {
  readonly error: ApiError;
  /** The real cause, for a server-side log line; undefined when the error is the client's own doing. */
  readonly cause?: string;
}

/**
 * Turns anything thrown while serving a request into the error the client
 * sees. ConnectErrors map through the table above using their ErrorDetail;
 * wire validation errors become 400 with their `param`; anything unexpected
 * becomes a generic 500 whose message reveals nothing but the request id.
 * `secret` (the caller's API key) is scrubbed from every message.
 */
export function mapError(err: unknown, requestId: string, secret?: string): MappedError {
  if (err instanceof ApiError) return { error: err };
  if (err instanceof WireError) {
    return { error: ApiError.invalidRequest(redact(err.message, secret), null, err.param ?? null) };
  }
  if (err instanceof ConnectError) return mapConnectError(err, requestId, secret);
  const cause = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { error: internalError(requestId), cause };
}

function mapConnectError(err: ConnectError, requestId: string, secret: string | undefined): MappedError {
  const detail = errorDetailOf(err);
  const upstreamStatus = detail?.upstreamStatus ?? 0;
  const mapping = mappingFor(err.code, detail, upstreamStatus);
  const cause = `[${Code[err.code]}] ${err.rawMessage}`;
  if (!mapping) return { error: internalError(requestId), cause };

  const headers: Record<string, string> = {};
  const retryAfterMs = Number(detail?.retryAfterMs ?? 0n);
  if (retryAfterMs > 0) {
    headers[Header.RetryAfter] = String(Math.ceil(retryAfterMs / 1000));
    headers[Header.RetryAfterMs] = String(retryAfterMs);
  }
  if (detail?.attempts) headers[Header.Attempts] = String(detail.attempts);
  const error = new ApiError(
    mapping.status,
    redact(err.rawMessage, secret) || defaultMessage(mapping.status),
    mapping.type,
    codeFor(mapping, detail),
    detail?.param || null,
    headers,
  );
  return { error, cause: mapping.status >= 500 ? cause : undefined };
}

function mappingFor(code: Code, detail: ErrorDetail | undefined, upstreamStatus: number): Mapping | undefined {
  switch (code) {
    case Code.ResourceExhausted:
      return upstreamStatus === 413 || detail?.reason.includes("too_large") ? TOO_LARGE : BY_CODE.get(code);
    case Code.InvalidArgument:
      return upstreamStatus === 422 ? UNPROCESSABLE : BY_CODE.get(code);
    case Code.Unavailable:
      return upstreamStatus ? upstreamFailure(upstreamStatus) : BY_CODE.get(code);
    case Code.Internal:
    case Code.Unknown:
    case Code.DataLoss:
      // An upstream's fault is a 5xx the client may read; otherwise it is
      // our own bug, and the client learns nothing specific.
      return upstreamStatus || detail?.reason === Reason.UpstreamError ? upstreamFailure(upstreamStatus) : undefined;
    default:
      return BY_CODE.get(code);
  }
}

/** An upstream failure's mapping: its own status when it is one passed on as sent, else a 502. */
function upstreamFailure(upstreamStatus: number): Mapping {
  return UPSTREAM_FAILED_AS_SENT.get(upstreamStatus) ?? UPSTREAM_FAILED;
}

/**
 * The `code` field: for client errors the upstream's own code wins (e.g.
 * `context_length_exceeded`, which SDK users test for); then a specific
 * reason; then the table's default. An upstream failure (5xx) always says `upstream_error`.
 */
function codeFor(mapping: Mapping, detail: ErrorDetail | undefined): string | null {
  if (mapping.code === UPSTREAM_FAILED.code || !detail) return mapping.code;
  if (mapping.status < 500 && detail.upstreamCode) return detail.upstreamCode;
  if (GENERIC_REASONS.has(detail.reason)) return mapping.code;
  return REASON_AS_CODE.get(detail.reason) ?? detail.reason;
}

function internalError(requestId: string): ApiError {
  return new ApiError(
    500,
    `The server had an error while processing your request. Request id: ${requestId}`,
    ErrorType.Api,
    "internal_error",
  );
}

function defaultMessage(status: number): string {
  return `Request failed with status ${status}`;
}

/** Removes the caller's key from a message or log line, should any hop have echoed it. */
export function redact(message: string, secret: string | undefined): string {
  // Short strings would match innocent words; real keys are long.
  if (!secret || secret.length < 8 || !message.includes(secret)) return message;
  return message.split(secret).join("***");
}
