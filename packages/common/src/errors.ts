import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ErrorDetailSchema, type ErrorDetail } from "@llmmesh/proto";

/** Machine-readable error reasons shared by every service and the REST edge. */
export const Reason = {
  InvalidRequest: "invalid_request",
  InvalidApiKey: "invalid_api_key",
  MissingApiKey: "missing_api_key",
  ModelNotAllowed: "model_not_allowed",
  ModelNotFound: "model_not_found",
  RateLimited: "rate_limited",
  UpstreamError: "upstream_error",
  UpstreamTimeout: "upstream_timeout",
  UpstreamUnavailable: "upstream_unavailable",
  UnsupportedFeature: "unsupported_feature",
  /** This deployment's own provider config is wrong (unknown provider, missing URL or secret): an operator must act. */
  ProviderMisconfigured: "provider_misconfigured",
  Internal: "internal_error",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Fields of the structured detail, all optional but the reason. */
export type ErrorDetailInit = { reason: Reason | string } & Partial<Omit<ErrorDetail, "$typeName" | "reason">>;

/**
 * Builds the one error type that crosses service boundaries: a ConnectError
 * with a precise code and an `ErrorDetail`, so every hop can decide on
 * retries and statuses without parsing messages.
 */
export function meshError(code: Code, message: string, detail: ErrorDetailInit, cause?: unknown): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorDetailSchema, value: create(ErrorDetailSchema, detail) }], cause);
}

/** The structured detail of an error, if it carries one. */
export function errorDetailOf(err: ConnectError): ErrorDetail | undefined {
  return err.findDetails(ErrorDetailSchema)[0];
}

/** Maps an upstream HTTP status to the gRPC code that keeps its meaning. */
export function codeForUpstreamStatus(status: number): Code {
  if (status === 400 || status === 422) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 408 || status === 504) return Code.DeadlineExceeded;
  if (status === 409) return Code.Aborted;
  if (status === 413) return Code.ResourceExhausted;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 501) return Code.Unimplemented;
  if (status === 503 || status === 502) return Code.Unavailable;
  return Code.Internal;
}
