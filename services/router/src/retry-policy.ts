import { Code, type ConnectError } from "@connectrpc/connect";
import { errorDetailOf, Reason } from "@llmmesh/common";

/**
 * What the attempt loop does after an adapter error:
 * - `retry`: a transient failure; try the same target again after a backoff.
 * - `rate_limited`: the upstream said 429; move to the next target at once,
 *   retrying only on the last one (a rate limit rarely clears within a backoff).
 * - `misconfigured`: the provider refused the mesh itself (its key, its model
 *   name, its setup); move on without retrying and never blame the client.
 * - `next`: this target cannot serve the request; move on without retrying.
 * - `unsupported`: this target's model cannot serve this kind of request
 *   (say, text completions); move on without retrying. Should every target
 *   refuse so, the refusal is the client's answer (a 400).
 * - `fatal`: the client's fault or the client's wish; stop and answer now.
 */
export type ErrorClass = "retry" | "rate_limited" | "misconfigured" | "next" | "unsupported" | "fatal";

/** An adapter error, classified. */
export interface Verdict {
  readonly kind: ErrorClass;
  /** The wait the upstream asked for, 0 when it did not say. */
  readonly retryAfterMs: number;
}

/** Classifies an adapter error by its code and ErrorDetail; never looks at the message. */
export function classifyAdapterError(err: ConnectError): Verdict {
  const detail = errorDetailOf(err);
  const upstreamStatus = detail?.upstreamStatus ?? 0;
  const retryAfterMs = detail ? Math.max(0, Number(detail.retryAfterMs)) : 0;
  return { kind: classOf(err.code, upstreamStatus, detail?.reason ?? ""), retryAfterMs };
}

function classOf(code: Code, upstreamStatus: number, reason: string): ErrorClass {
  switch (code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Aborted:
      return "retry";
    case Code.Internal:
    case Code.Unknown:
      // 0: no upstream answer at all (a reset, a bug in the adapter); 5xx: the upstream broke.
      return upstreamStatus === 0 || upstreamStatus >= 500 ? "retry" : "next";
    case Code.ResourceExhausted:
      // 413 also maps to ResourceExhausted, but a request too large fails on every target.
      return upstreamStatus === 413 ? "fatal" : "rate_limited";
    case Code.Unauthenticated:
    case Code.PermissionDenied:
    case Code.NotFound:
    case Code.FailedPrecondition:
      return "misconfigured";
    case Code.InvalidArgument:
      return reason === Reason.UnsupportedFeature ? "unsupported" : "fatal";
    case Code.Canceled:
      return "fatal";
    default:
      // Unimplemented (the adapter or provider lacks the feature), OutOfRange, DataLoss...:
      // another target may do better, and repeating the same call will not.
      return "next";
  }
}

/**
 * The wait before retry number `retry` (0 for the first retry): exponential
 * backoff with full jitter, uniform in [0, backoffMs × 2^retry), but never
 * shorter than what the upstream asked for.
 */
export function backoffDelayMs(retry: number, backoffMs: number, retryAfterMs: number, random: () => number): number {
  const jittered = Math.floor(random() * backoffMs * 2 ** retry);
  return Math.max(jittered, retryAfterMs);
}
