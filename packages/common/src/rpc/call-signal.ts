import { Code, ConnectError } from "@connectrpc/connect";

/** A signal that never fires, shared by every call that has neither a caller signal nor a deadline. */
const NEVER: AbortSignal = new AbortController().signal;

/** The caller's signal, or the shared one that never fires. */
export function signalOrNever(caller: AbortSignal | undefined): AbortSignal {
  return caller ?? NEVER;
}

/** The error of a call whose own deadline passed. */
export function deadlineError(timeoutMs: number): ConnectError {
  return new ConnectError(`the deadline of ${timeoutMs} ms passed`, Code.DeadlineExceeded);
}

/** The cancellation of one call, made only as expensive as the call needs. */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** Releases the deadline timer and listeners; never aborts (that would cost an exception per call). */
  done(): void;
}

/**
 * Signals known to fire by a given time (`performance.now()` scale): a
 * request's own deadline, say. A call on one of them whose deadline is no
 * earlier needs no timer of its own.
 */
const firesBy = new WeakMap<AbortSignal, number>();

/**
 * Records that `signal` aborts no later than `endsAt` (`performance.now()`
 * scale): with DeadlineExceeded then, unless something aborted it first.
 * Whoever marks a signal must keep that promise while a call may rely on it,
 * or take the mark back first (`unmarkDeadline`): a unary call on a marked
 * signal sets no timer of its own, so a broken promise leaves it without a
 * deadline.
 */
export function markDeadline(signal: AbortSignal, endsAt: number): void {
  firesBy.set(signal, endsAt);
}

/** Takes back `markDeadline`: the signal may no longer fire by then. */
export function unmarkDeadline(signal: AbortSignal): void {
  firesBy.delete(signal);
}

/** How late a caller's deadline may be, past the call's own, and still stand in for it: timeouts are whole milliseconds. */
const DEADLINE_SLACK_MS = 1;

const nothingToRelease = () => {};

/**
 * Combines a caller's signal and a deadline into one signal. A call with
 * neither shares one static signal; a call with only a caller's signal uses
 * it as is, and so does a unary call whose caller's signal is marked to fire
 * by the call's own deadline (the router's attempts, which pass the time
 * left on the request's deadline); only any other deadline costs a
 * controller and a timer. Streams never lean on a mark: a stream may outlive
 * its caller's deadline (the router disarms it once output has started).
 * (The network transports keep a stream's deadline themselves, with a timer
 * and no controller: see CallSenders.stream.)
 * The reasons are ConnectErrors (Canceled, DeadlineExceeded), as Connect's
 * own transports give.
 */
export function callSignal(caller: AbortSignal | undefined, timeoutMs: number | undefined, kind: "unary" | "stream"): CallSignal {
  if (timeoutMs === undefined || timeoutMs <= 0) {
    return { signal: caller ?? NEVER, done: nothingToRelease };
  }
  if (kind === "unary" && caller !== undefined && firesInTime(caller, timeoutMs)) {
    return { signal: caller, done: nothingToRelease };
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(deadlineError(timeoutMs)), timeoutMs);
  const onCallerAbort = () => controller.abort(ConnectError.from(caller?.reason, Code.Canceled));
  if (caller?.aborted) onCallerAbort();
  else caller?.addEventListener("abort", onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/**
 * True when `caller` is marked to fire by the time a unary call of
 * `timeoutMs` would pass its own deadline: the call needs no timer of its own.
 */
export function firesInTime(caller: AbortSignal, timeoutMs: number): boolean {
  const callerEndsAt = firesBy.get(caller);
  return callerEndsAt !== undefined && callerEndsAt <= performance.now() + timeoutMs + DEADLINE_SLACK_MS;
}

/** True for the shared signal that never fires: nobody needs to listen to it. */
export function cannotAbort(signal: AbortSignal): boolean {
  return signal === NEVER;
}

/** The error a call ends with once its signal fired. */
export function abortError(signal: AbortSignal): ConnectError {
  return ConnectError.from(signal.reason, Code.Canceled);
}
