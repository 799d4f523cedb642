import { abortError, cannotAbort, deadlineError } from "./call-signal.js";
import { unavailable } from "./call-errors.js";
import type { MuxConnection, MuxStream, MuxStreamSink } from "./mux-client.js";

/** Sends `call` on `connection` (its headers, `:path` among them, and its one request message); resolves to its response. */
export function sendOn<R>(connection: MuxConnection, headers: Record<string, string>, request: Uint8Array, call: MuxCallBase<R>): Promise<R> {
  call.start(connection.open(headers, request, call));
  return call.response;
}

/**
 * What every call on a multiplexed connection shares, unary or streaming:
 * its response promise, and its end by the caller's signal, its own
 * deadline, or the connection being lost. Subclasses take the frames.
 */
export abstract class MuxCallBase<R> implements MuxStreamSink {
  readonly response: Promise<R>;
  protected resolve!: (response: R) => void;
  protected reject!: (err: unknown) => void;
  protected stream!: MuxStream;
  /** True once the call has ended, one way or another: later frames are ignored. */
  protected over = false;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(
    protected readonly signal: AbortSignal,
    protected readonly origin: string,
    /** The call's own deadline, when it needs a timer for it. */
    private readonly deadlineMs: number | undefined,
  ) {
    this.response = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  start(stream: MuxStream): void {
    this.stream = stream;
    if (!cannotAbort(this.signal)) this.signal.addEventListener("abort", this.#cancel, { once: true });
    // The call as the timer's argument: no closure per call.
    if (this.deadlineMs !== undefined) this.#deadline = setTimeout(MuxCallBase.#expire, this.deadlineMs, this);
  }

  static #expire<T>(call: MuxCallBase<T>): void {
    if (call.over) return;
    call.stream.cancel();
    call.fail(deadlineError(call.deadlineMs!));
  }

  abstract headers(headers: Record<string, string>): void;
  abstract message(bytes: Buffer): void;
  abstract end(endOfStream: Buffer): void;

  lost(err: Error): void {
    if (this.over) return;
    this.fail(this.signal.aborted ? abortError(this.signal) : unavailable(this.origin, err));
  }

  readonly #cancel = () => {
    if (this.over) return;
    this.stream.cancel();
    this.fail(abortError(this.signal));
  };

  /** Ends the call: stops listening to the caller's signal and the clock. */
  protected finish(): void {
    this.over = true;
    this.signal.removeEventListener("abort", this.#cancel);
    clearTimeout(this.#deadline);
  }

  /** Ends the call with `err`, where its caller will see it. */
  protected fail(err: unknown): void {
    this.finish();
    this.failed(err);
  }

  /** Hands a failure to the caller: the response rejects, unless a subclass has somewhere later to put it. */
  protected failed(err: unknown): void {
    this.reject(err);
  }
}
