/** The OpenAI error envelope every gateway error response carries. */
export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI error `type` values the gateway answers with. */
export const ErrorType = {
  InvalidRequest: "invalid_request_error",
  Authentication: "authentication_error",
  Permission: "permission_error",
  RateLimit: "rate_limit_error",
  Api: "api_error",
} as const;

/**
 * An error as the REST client will see it: HTTP status, OpenAI envelope
 * fields and any extra response headers (Retry-After). Everything that goes
 * wrong is turned into one of these before it is written, so the envelope
 * has one shape however the failure started.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** A 400 `invalid_request_error`, the common case for the gateway's own checks. */
  static invalidRequest(message: string, code: string | null, param: string | null = null): ApiError {
    return new ApiError(400, message, ErrorType.InvalidRequest, code, param);
  }

  /** The `{"error": {...}}` body. */
  toEnvelope(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
