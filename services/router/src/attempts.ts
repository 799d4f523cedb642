import { Code, ConnectError } from "@connectrpc/connect";
import { errorDetailOf, meshError, Reason, type ErrorDetailInit } from "@llmmesh/common";
import type { RequestDeadline } from "./deadline.js";
import { backoffDelayMs, classifyAdapterError, type Verdict } from "./retry-policy.js";
import type { PlannedTarget } from "./targets.js";

/** A target and the adapter client that serves it (undefined when no adapter is reachable). */

/** A timeout reported within this much of our own deadline is our own deadline. */
const DEADLINE_RACE_MARGIN_MS = 50;
export interface Candidate<C> {
  readonly planned: PlannedTarget;
  readonly client: C | undefined;
}

/** What each attempt gets: the request's signal and the time left. */
export interface AttemptCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

/** Inputs of {@link runAttempts}. */
export interface AttemptLoopOptions<C, T> {
  /** The client's model name, for error messages. */
  model: string;
  candidates: readonly Candidate<C>[];
  /** Extra attempts per target after the first (`routing.retries`). */
  retries: number;
  /** First backoff (`routing.backoff_ms`), doubled per retry. */
  backoffMs: number;
  deadline: RequestDeadline;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  /** Makes one attempt on one target. */
  call: (client: C, planned: PlannedTarget, options: AttemptCallOptions) => Promise<T>;
  /** Hears about every failed attempt (for debug logs and tests). */
  onFailure?: (planned: PlannedTarget, error: ConnectError, verdict: Verdict) => void;
}

/** How a request's attempts ended. `target` is the one that served it, or the last one tried. */
export type AttemptResult<T> =
  | { ok: true; value: T; target: PlannedTarget; attempts: number }
  | { ok: false; error: ConnectError; target: PlannedTarget | undefined; attempts: number };

/**
 * Tries the targets in order with retries, backoff and fallback, within the
 * request's deadline, and says how it ended; it never throws.
 *
 * Per failed attempt (see retry-policy.ts): transient errors retry the same
 * target up to `retries` times with jittered exponential backoff (never less
 * than the upstream's Retry-After), then fall back; a 429 falls back at once
 * and is retried only on the last target; a misconfigured provider or a
 * missing feature falls back without retrying; the client's own mistakes and
 * cancellation stop everything. A retry whose wait would not fit in the time
 * left is skipped in favour of the next target.
 */
export async function runAttempts<C, T>(options: AttemptLoopOptions<C, T>): Promise<AttemptResult<T>> {
  const { candidates, deadline } = options;
  let attempts = 0;
  let last: { error: ConnectError; verdict: Verdict; target: PlannedTarget } | undefined;
  let lastTried: PlannedTarget | undefined;
  // A missing adapter explains the failure only when no target could be tried at all.
  let unreachable: PlannedTarget | undefined;
  // A target refusing the kind of request explains the failure only when every tried target refused it:
  // a healthy-but-failing target that could serve it is the better answer (it may work next time).
  let refusal: { error: ConnectError; target: PlannedTarget } | undefined;
  const stopped = (error: ConnectError): AttemptResult<T> => ({ ok: false, error, target: lastTried, attempts });

  const lastUsable = findLastIndex(candidates, (c) => c.client !== undefined);
  for (let index = 0; index < candidates.length; index++) {
    const { planned, client } = candidates[index]!;
    if (client === undefined) {
      unreachable ??= planned;
      continue;
    }
    for (let retry = 0; ; retry++) {
      try {
        deadline.check();
      } catch (err) {
        return stopped(ConnectError.from(err));
      }
      attempts++;
      lastTried = planned;
      try {
        const value = await options.call(client, planned, { signal: deadline.signal, timeoutMs: Math.max(1, deadline.remainingMs()) });
        return { ok: true, value, target: planned, attempts };
      } catch (err) {
        const error = ConnectError.from(err);
        // Our own deadline or the client's cancel explain the failure better than the adapter's error does.
        // An adapter's own timer, set from the deadline we sent, may fire a moment before ours: a
        // DeadlineExceeded that close to our deadline is ours, not a reason to try another target.
        try {
          deadline.check(error.code === Code.DeadlineExceeded ? DEADLINE_RACE_MARGIN_MS : 0);
        } catch (stop) {
          return stopped(ConnectError.from(stop));
        }
        const verdict = classifyAdapterError(error);
        options.onFailure?.(planned, error, verdict);
        if (verdict.kind === "fatal") return stopped(error);
        if (verdict.kind === "unsupported") {
          refusal ??= { error, target: planned };
          break;
        }
        last = { error, verdict, target: planned };
        const retryHere = verdict.kind === "retry" || (verdict.kind === "rate_limited" && index === lastUsable);
        if (!retryHere || retry >= options.retries) break;
        const delayMs = backoffDelayMs(retry, options.backoffMs, verdict.retryAfterMs, options.random);
        if (delayMs >= deadline.remainingMs()) break;
        try {
          await options.sleep(delayMs, deadline.signal);
        } catch {
          // The sleep only ends early when the signal aborts; check() says why.
        }
      }
    }
  }
  if (!last) {
    if (refusal) return stopped(unsupportedError(options.model, attempts, refusal.error, refusal.target));
    if (unreachable) return stopped(exhaustedError(options.model, 0, noAdapterError(unreachable), { kind: "next", retryAfterMs: 0 }, unreachable));
    return stopped(meshError(Code.NotFound, `The model '${options.model}' has no targets.`, { reason: Reason.ModelNotFound, param: "model" }));
  }
  return stopped(exhaustedError(options.model, attempts, last.error, last.verdict, last.target));
}

function findLastIndex<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return i;
  return -1;
}

/**
 * Every target tried refused the kind of request: the client's answer keeps
 * the refusal's code (InvalidArgument, a 400) and detail, named for the
 * client's model rather than an upstream one.
 */
function unsupportedError(model: string, attempts: number, error: ConnectError, target: PlannedTarget): ConnectError {
  const detail = errorDetailOf(error);
  return meshError(
    error.code,
    `The model '${model}' cannot serve this request: ${error.rawMessage}.`,
    { reason: detail?.reason ?? Reason.UnsupportedFeature, param: detail?.param ?? "", provider: detail?.provider || target.provider, attempts },
    error,
  );
}

function noAdapterError(planned: PlannedTarget): ConnectError {
  return meshError(Code.Unavailable, `No adapter '${planned.adapterName}' is reachable for provider '${planned.provider}'.`, {
    reason: Reason.UpstreamUnavailable,
    provider: planned.provider,
  });
}

/**
 * The error the client sees once every target failed: the last failure, its
 * detail kept, with a message naming the model and the number of attempts.
 * A provider that refused the mesh itself (its credentials or setup) becomes
 * a gateway-side upstream error: the client's own key is not at fault.
 */
function exhaustedError(model: string, attempts: number, error: ConnectError, verdict: Verdict, target: PlannedTarget): ConnectError {
  const original = errorDetailOf(error);
  const detail: ErrorDetailInit = {
    reason: original?.reason || Reason.UpstreamError,
    upstreamStatus: original?.upstreamStatus ?? 0,
    retryAfterMs: original?.retryAfterMs ?? 0n,
    param: original?.param ?? "",
    provider: original?.provider || target.provider,
    upstreamType: original?.upstreamType ?? "",
    upstreamCode: original?.upstreamCode ?? "",
    attempts,
  };
  const tried = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  if (attempts === 0) {
    return meshError(error.code, `The model '${model}' could not be served: ${error.rawMessage}`, detail, error);
  }
  if (verdict.kind === "misconfigured") {
    // The upstream's own message is withheld: it may describe the provider's credentials.
    const status = detail.upstreamStatus ? ` with status ${detail.upstreamStatus}` : "";
    return meshError(
      Code.Internal,
      `The model '${model}' failed after ${tried}: provider '${detail.provider}' refused the gateway's request${status}; the provider is misconfigured.`,
      { ...detail, reason: Reason.UpstreamError, retryAfterMs: 0n },
      error,
    );
  }
  return meshError(error.code, `The model '${model}' failed after ${tried}; the last error (provider '${detail.provider}'): ${error.rawMessage}`, detail, error);
}
