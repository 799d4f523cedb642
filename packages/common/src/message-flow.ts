/**
 * Streams that deliver by calls instead of promises. A pulled stream (next())
 * makes a promise per value and layer, and each waits from one value to the
 * next: with thousands of slow streams every one of them lives long enough to
 * be promoted to old space, and so does every value a promoted promise is
 * resolved with (a dead old object keeps what it points to alive through
 * every scavenge until the next full collection). A flowing stream keeps one
 * sink per layer for as long as it lasts and hands each value down through
 * plain calls the moment it arrives, so a value dies young.
 */

/** Where a flowing stream's values go, as they arrive. Its methods must not throw. */
export interface MessageSink<T> {
  value(value: T): void;
  /** The stream completed: nothing follows. */
  end(): void;
  /** The stream failed: nothing follows. */
  fail(err: unknown): void;
}

/**
 * The consumer's hold on a flowing stream. It starts paused: nothing reaches
 * the sink before the first resume().
 */
export interface MessageFlow {
  /** No more values for now (they queue at the source, which holds back its producer). */
  pause(): void;
  resume(): void;
  /** The consumer leaves: the source is stopped and the sink hears nothing more. */
  stop(): void;
}

/** A stream that can flow. The stream is then its sink's alone: next() must not be called any more. */
export interface FlowingStream<T> {
  flow(sink: MessageSink<T>): MessageFlow;
}

function canFlow<T>(source: AsyncIterator<T>): source is AsyncIterator<T> & FlowingStream<T> {
  return typeof (source as Partial<FlowingStream<T>>).flow === "function";
}

/** `source`'s values to `sink`: by calls where the source can flow, else by next(), one promise per value. */
export function flowMessages<T>(source: AsyncIterator<T>, sink: MessageSink<T>): MessageFlow {
  return canFlow(source) ? source.flow(sink) : new PulledFlow(source, sink);
}

/** Asks a source to stop; how it fails at stopping is no concern of a consumer that has left. */
export function stopQuietly(source: AsyncIterator<unknown>, err?: unknown): void {
  try {
    const stopped = err !== undefined && source.throw ? source.throw(err) : source.return?.();
    void stopped?.catch(() => {});
  } catch {
    // A synchronous throw from return() means the same: it could not stop cleanly.
  }
}

/** Any async iterator as a flow: the next value is asked for while the flow is on. */
class PulledFlow<T> implements MessageFlow {
  #paused = true;
  #pulling = false;
  #over = false;

  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly sink: MessageSink<T>,
  ) {}

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pull();
  }

  stop(): void {
    if (this.#over) return;
    this.#over = true;
    stopQuietly(this.source);
  }

  #pull(): void {
    if (this.#over || this.#paused || this.#pulling) return;
    this.#pulling = true;
    let next: Promise<IteratorResult<T>>;
    try {
      next = this.source.next();
    } catch (err) {
      next = Promise.reject(err);
    }
    next.then(this.#onResult, this.#onFailure);
  }

  readonly #onResult = (result: IteratorResult<T>): void => {
    this.#pulling = false;
    if (this.#over) return;
    if (result.done) {
      this.#over = true;
      this.sink.end();
      return;
    }
    this.sink.value(result.value);
    this.#pull();
  };

  readonly #onFailure = (err: unknown): void => {
    this.#pulling = false;
    if (this.#over) return;
    this.#over = true;
    this.sink.fail(err);
  };
}

/**
 * What `sendEach` does after a value was sent: go on (true or nothing), stop
 * (false), or wait for the promise, then do what it resolves to.
 */
export type SendOutcome = boolean | void | Promise<boolean | void>;

/** How `sendEach` finished: the source ended, or it was stopped (by `send` returning false, or by stop()). */
export type SendEnd = "ended" | "stopped";

/**
 * Sends every value of `source` through `send` as it arrives, holding the
 * source back while a send's promise is pending. `finished` resolves once
 * the source ends or the sending is stopped; it rejects with the source's
 * failure, or with what `send` threw (the source is stopped then).
 */
export function sendEach<T>(source: AsyncIterator<T>, send: (value: T) => SendOutcome): { finished: Promise<SendEnd>; stop(): void } {
  const sending = new Sending(send);
  sending.start(source);
  return sending;
}

class Sending<T> implements MessageSink<T> {
  readonly finished: Promise<SendEnd>;
  #settle!: (how: SendEnd) => void;
  #reject!: (err: unknown) => void;
  #flow: MessageFlow | undefined;
  #over = false;

  constructor(private readonly send: (value: T) => SendOutcome) {
    this.finished = new Promise<SendEnd>((resolve, reject) => {
      this.#settle = resolve;
      this.#reject = reject;
    });
  }

  start(source: AsyncIterator<T>): void {
    const flow = flowMessages(source, this);
    this.#flow = flow;
    flow.resume();
  }

  stop(): void {
    if (this.#over) return;
    this.#over = true;
    this.#flow?.stop();
    this.#settle("stopped");
  }

  value(value: T): void {
    if (this.#over) return;
    let outcome: SendOutcome;
    try {
      outcome = this.send(value);
    } catch (err) {
      this.#abandon(err);
      return;
    }
    if (outcome === false) this.stop();
    else if (outcome !== undefined && outcome !== true) this.#wait(outcome);
  }

  end(): void {
    if (this.#over) return;
    this.#over = true;
    this.#settle("ended");
  }

  fail(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#reject(err);
  }

  #wait(outcome: Promise<boolean | void>): void {
    this.#flow?.pause();
    outcome.then(
      (goOn) => {
        if (this.#over) return;
        if (goOn === false) this.stop();
        else this.#flow?.resume();
      },
      (err: unknown) => this.#abandon(err),
    );
  }

  /** A send failed: the source is stopped, and the failure is the outcome. */
  #abandon(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#flow?.stop();
    this.#reject(err);
  }
}
