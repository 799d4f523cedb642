import { Code, ConnectError } from "@connectrpc/connect";

/** A signal that never fires, shared by every call that has neither a caller signal nor a deadline. */
const NEVER: AbortSignal = new AbortController().signal;

/** The cancellation of one call, made only as expensive as the call needs. */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** Releases the deadline timer and listeners; never aborts (that would cost an exception per call). */
  done(): void;
  /** False when done() has nothing to release, so nobody needs to watch for the call's end. */
  readonly holdsTimer: boolean;
}

/**
 * Combines a caller's signal and a deadline into one signal. A call with
 * neither shares one static signal; a call with only a caller's signal uses
 * it as is; only a deadline costs a controller and a timer. The reasons are
 * ConnectErrors (Canceled, DeadlineExceeded), as Connect's own transports give.
 */
export function callSignal(caller: AbortSignal | undefined, timeoutMs: number | undefined): CallSignal {
  if (timeoutMs === undefined || timeoutMs <= 0) {
    return { signal: caller ?? NEVER, done: () => {}, holdsTimer: false };
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new ConnectError(`the deadline of ${timeoutMs} ms passed`, Code.DeadlineExceeded)), timeoutMs);
  const onCallerAbort = () => controller.abort(ConnectError.from(caller?.reason, Code.Canceled));
  if (caller?.aborted) onCallerAbort();
  else caller?.addEventListener("abort", onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    holdsTimer: true,
    done() {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/** True for the shared signal that never fires: nobody needs to listen to it. */
export function cannotAbort(signal: AbortSignal): boolean {
  return signal === NEVER;
}

/** The error a call ends with once its signal fired. */
export function abortError(signal: AbortSignal): ConnectError {
  return ConnectError.from(signal.reason, Code.Canceled);
}
