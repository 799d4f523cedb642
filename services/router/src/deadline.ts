import { Code, ConnectError } from "@connectrpc/connect";
import { markDeadline, meshError, Reason, unmarkDeadline } from "@llmmesh/common";

/**
 * The time budget of one request, all attempts included, joined with the
 * client's own cancellation. `signal` aborts when either ends; `check()`
 * turns that into the error the client should see.
 */
export interface RequestDeadline {
  /** Aborts when the client goes away or the deadline passes; pass it to every downstream call. */
  readonly signal: AbortSignal;
  /** Whole milliseconds left, never negative. */
  remainingMs(): number;
  /**
   * Throws Canceled if the client went away, DeadlineExceeded (upstream_timeout)
   * if time is up, or if no more than `marginMs` is left.
   */
  check(marginMs?: number): void;
  /**
   * Stops the clock (the signal still follows the client), e.g. once a
   * stream has started. Only with no unary call pending on `signal`: those
   * rely on it for their own deadline.
   */
  disarm(): void;
  /** Releases the timer and listeners; call when the request ends. */
  dispose(): void;
  /** Cancels every call still running on this deadline's signal (a stream left early). */
  cancel(): void;
}

/** What a deadline is made from. */
export interface DeadlineOptions {
  /** The client's signal (`ctx.signal`). */
  clientSignal: AbortSignal;
  /** The route's budget, `routing.timeout_ms`. */
  timeoutMs: number;
  /** The client's own deadline, if it set one (`ctx.timeoutMs()`). */
  clientTimeoutMs: number | undefined;
  /** Says what timed out, for the error message. */
  describe: () => string;
  now?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Starts the clock of one request. */
export function startDeadline(options: DeadlineOptions): RequestDeadline {
  const now = options.now ?? performance.now.bind(performance);
  const budgetMs = Math.min(options.timeoutMs, options.clientTimeoutMs ?? Infinity);
  const endsAt = now() + budgetMs;
  const controller = new AbortController();
  let armed = true;
  let timedOut = false;

  const timeoutError = () =>
    meshError(Code.DeadlineExceeded, `${options.describe()} did not complete within ${budgetMs} ms.`, { reason: Reason.UpstreamTimeout });
  const onClientAbort = () => controller.abort(options.clientSignal.reason);
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort(timeoutError());
    },
    // setTimeout fires at once for delays past 2^31-1 ms; no real budget is that long.
    Math.min(budgetMs, MAX_TIMER_MS),
  );
  if (options.clientSignal.aborted) onClientAbort();
  else options.clientSignal.addEventListener("abort", onClientAbort, { once: true });
  // Unary calls made on this signal with the time left as their timeout need no timer of their own.
  // In real time, as the timer is: `now` may be a test's clock.
  markDeadline(controller.signal, performance.now() + budgetMs);

  const remainingMs = () => (armed ? Math.max(0, Math.floor(endsAt - now())) : Infinity);
  return {
    signal: controller.signal,
    remainingMs,
    check(marginMs = 0) {
      if (options.clientSignal.aborted) throw clientGoneError(options.clientSignal.reason, timeoutError);
      if (timedOut || remainingMs() <= marginMs) throw timeoutError();
    },
    disarm() {
      armed = false;
      unmarkDeadline(controller.signal);
      clearTimeout(timer);
    },
    cancel() {
      if (!controller.signal.aborted) controller.abort(new ConnectError("The stream was closed before it ended.", Code.Canceled));
    },
    dispose() {
      unmarkDeadline(controller.signal);
      clearTimeout(timer);
      options.clientSignal.removeEventListener("abort", onClientAbort);
    },
  };
}

/** The client's own deadline stays a deadline; anything else is a cancellation. */
function clientGoneError(reason: unknown, timeoutError: () => ConnectError): ConnectError {
  if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) return timeoutError();
  return new ConnectError("The request was cancelled by the client.", Code.Canceled);
}
