import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { followCancellation, markDeadline, meshError, Reason, unmarkDeadline } from "@llmmesh/common";

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
  /** The client's call, whose cancellation the deadline follows. */
  caller: HandlerContext;
  /** The route's budget, `routing.timeout_ms`. */
  timeoutMs: number;
  /** The client's own deadline, if it set one (`ctx.timeoutMs()`). */
  clientTimeoutMs: number | undefined;
  /** Says what timed out, for the error message. */
  describe: () => string;
  now?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

const realNow = () => performance.now();

/** Starts the clock of one request. */
export function startDeadline(options: DeadlineOptions): RequestDeadline {
  return new Deadline(options);
}

/**
 * A class, not closures over the options: a stream keeps its deadline for as
 * long as it lasts, and methods on the prototype cost it nothing.
 */
class Deadline implements RequestDeadline {
  readonly #controller = new AbortController();
  readonly #options: DeadlineOptions;
  readonly #now: () => number;
  readonly #budgetMs: number;
  readonly #endsAt: number;
  readonly #timer: ReturnType<typeof setTimeout>;
  #armed = true;
  #timedOut = false;
  #clientGone = false;
  #clientReason: unknown;
  readonly #unfollowClient: () => void;

  constructor(options: DeadlineOptions) {
    this.#options = options;
    this.#now = options.now ?? realNow;
    this.#budgetMs = Math.min(options.timeoutMs, options.clientTimeoutMs ?? Infinity);
    this.#endsAt = this.#now() + this.#budgetMs;
    // setTimeout fires at once for delays past 2^31-1 ms; no real budget is that long.
    this.#timer = setTimeout(Deadline.#expire, Math.min(this.#budgetMs, MAX_TIMER_MS), this);
    this.#unfollowClient = followCancellation(options.caller, (reason) => this.#clientLeft(reason));
    // Unary calls made on this signal with the time left as their timeout need no timer of their own.
    // In real time, as the timer is: `now` may be a test's clock.
    markDeadline(this.#controller.signal, performance.now() + this.#budgetMs);
  }

  #clientLeft(reason: unknown): void {
    this.#clientGone = true;
    this.#clientReason = reason;
    this.#controller.abort(reason);
  }

  static #expire(deadline: Deadline): void {
    deadline.#timedOut = true;
    deadline.#controller.abort(deadline.#timeoutError());
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  remainingMs(): number {
    return this.#armed ? Math.max(0, Math.floor(this.#endsAt - this.#now())) : Infinity;
  }

  check(marginMs = 0): void {
    if (this.#clientGone) throw clientGoneError(this.#clientReason, () => this.#timeoutError());
    if (this.#timedOut || this.remainingMs() <= marginMs) throw this.#timeoutError();
  }

  disarm(): void {
    this.#armed = false;
    unmarkDeadline(this.#controller.signal);
    clearTimeout(this.#timer);
  }

  cancel(): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(new ConnectError("The stream was closed before it ended.", Code.Canceled));
  }

  dispose(): void {
    unmarkDeadline(this.#controller.signal);
    clearTimeout(this.#timer);
    this.#unfollowClient();
  }

  #timeoutError(): ConnectError {
    return meshError(Code.DeadlineExceeded, `${this.#options.describe()} did not complete within ${this.#budgetMs} ms.`, { reason: Reason.UpstreamTimeout });
  }
}

/** The client's own deadline stays a deadline; anything else is a cancellation. */
function clientGoneError(reason: unknown, timeoutError: () => ConnectError): ConnectError {
  if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) return timeoutError();
  return new ConnectError("The request was cancelled by the client.", Code.Canceled);
}
