import {
  ConfigConflictError,
  ConfigError,
  ConfigRefusedError,
  ConfigStoreUnavailableError,
  RevisionNotFoundError,
} from "@llmmesh/common";
import { ApiError, ErrorType, type ErrorEnvelope } from "../api-error.js";

/** An admin error that lists problems (each naming a config path) beside the OpenAI-style envelope. */
export class AdminProblemsError extends ApiError {
  constructor(
    status: number,
    message: string,
    code: string,
    readonly problems: readonly string[],
  ) {
    super(status, message, ErrorType.InvalidRequest, code);
  }

  /** `{"error": {..., "problems": [...]}}`. */
  override toEnvelope(): ErrorEnvelope & { error: { problems: readonly string[] } } {
    const envelope = super.toEnvelope();
    return { error: { ...envelope.error, problems: this.problems } };
  }
}

/** The admin API is off: no LLMMESH_ADMIN_KEY in the gateway's environment. */
export function adminDisabled(): ApiError {
  return new ApiError(
    403,
    "The admin API is disabled: start the gateway with LLMMESH_ADMIN_KEY set, and send it as `Authorization: Bearer <key>`",
    ErrorType.Permission,
    "admin_api_disabled",
  );
}

/** Missing or wrong admin key. */
export function adminKeyInvalid(): ApiError {
  return new ApiError(401, "Invalid admin key: send LLMMESH_ADMIN_KEY as `Authorization: Bearer <key>`", ErrorType.Authentication, "invalid_admin_key");
}

/** This gateway reads a local file, not NATS: there is no shared config to manage. */
export function noConfigStore(): ApiError {
  return new ApiError(
    503,
    "This gateway does not follow NATS (NATS_URL is not set): its config is a local file; edit that file, it is applied on save",
    ErrorType.Api,
    "config_store_unavailable",
  );
}

/** Config failures as the admin client sees them; anything else is passed on (a generic 500). */
export function toAdminError(err: unknown): unknown {
  if (err instanceof ConfigError) return new AdminProblemsError(400, `Invalid config, nothing stored: ${err.problems.join("; ")}`, "invalid_config", err.problems);
  if (err instanceof ConfigRefusedError) {
    return new AdminProblemsError(409, `Refused by the running services, nothing stored: ${err.problems.join("; ")}`, "config_refused", err.problems);
  }
  if (err instanceof ConfigConflictError) return new ApiError(409, err.message, ErrorType.InvalidRequest, "config_conflict");
  if (err instanceof ConfigStoreUnavailableError) return new ApiError(503, err.message, ErrorType.Api, "config_store_unavailable");
  if (err instanceof RevisionNotFoundError) return new ApiError(404, `Revision ${err.revision} is not in the bucket's history`, ErrorType.InvalidRequest, "revision_not_found");
  return err;
}
