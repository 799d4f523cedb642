/**
 * Cheap async iterators for the per-chunk path of streams. Every
 * `async function*` layer costs several promises and request objects per
 * value and keeps them alive from one chunk to the next, long enough to be
 * promoted to old space: with thousands of slow streams that garbage was most
 * of the memory, and it cost CPU. These cost at most one promise per value
 * and layer, and the pass-through ones none; the stream path's own ones can
 * also flow (see message-flow.ts), with no promise per value at all.
 */

import { flowMessages, stopQuietly, type FlowingStream, type MessageFlow, type MessageSink } from "./message-flow.js";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

function done<T>(): Promise<IteratorResult<T>> {
  return Promise.resolve(DONE);
}

/** An async iterator that can always be stopped, as these all can. */
export interface MessageStream<T> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T>>;
  throw(err?: unknown): Promise<IteratorResult<T>>;
}

/** Returned by a `map` of `mapMessages` to drop a value. */
export const SKIP: unique symbol = Symbol("skip");

/** What `mapMessages` does to a stream. */
export interface MessageMapping<In, Out> {
  /** Turns each value into the one passed on (`SKIP` drops it). A throw fails the stream and stops the source. */
  map?: (value: In) => Out | typeof SKIP;
  /** Turns a failure (of the source, or of `map`) into the error the consumer sees. */
  error?: (err: unknown) => unknown;
  /**
   * Runs exactly once when the stream ends, whichever way: the source's end
   * (`complete` true; a throw then fails the stream instead), its failure, or
   * the consumer leaving with return() or throw().
   */
  finish?: (complete: boolean) => void;
}

/**
 * The values of `source` through `mapping`, as an iterator whose next() is
 * one `then` on the source's, or as a flow with no promise (flow()).
 * Stopping it (return() or throw(), or the flow's stop()) stops the source.
 */
export function mapMessages<In, Out = In>(source: AsyncIterator<In>, mapping: MessageMapping<In, Out>): MessageStream<Out> {
  return new MappedMessages(source, mapping);
}

class MappedMessages<In, Out> implements MessageStream<Out>, FlowingStream<Out> {
  #finished = false;

  constructor(
    private readonly source: AsyncIterator<In>,
    private readonly mapping: MessageMapping<In, Out>,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Out>> {
    if (this.#finished) return done();
    return this.source.next().then(this.#onResult, this.#onFailure);
  }

  return(): Promise<IteratorResult<Out>> {
    if (this.#finishOnce(false)) stopQuietly(this.source);
    return done();
  }

  throw(err?: unknown): Promise<IteratorResult<Out>> {
    if (this.#finishOnce(false)) stopQuietly(this.source, err);
    return Promise.reject(err);
  }

  // Arrow properties: made once per stream, not once per chunk.
  readonly #onResult = (result: IteratorResult<In>): IteratorResult<Out> | Promise<IteratorResult<Out>> => {
    if (result.done) {
      this.#finishOnce(true);
      return DONE;
    }
    const map = this.mapping.map;
    if (map === undefined) return result as IteratorResult<unknown> as IteratorResult<Out>;
    let value: Out | typeof SKIP;
    try {
      value = map(result.value);
    } catch (err) {
      if (this.#finishOnce(false)) stopQuietly(this.source);
      throw this.#mapError(err);
    }
    // A skipped value costs a second round; a kept one, nothing more.
    return value === SKIP ? this.next() : { done: false, value };
  };

  readonly #onFailure = (err: unknown): never => {
    this.#finishOnce(false);
    throw this.#mapError(err);
  };

  flow(sink: MessageSink<Out>): MessageFlow {
    return new MappedFlow(this, sink);
  }

  /** The source as a flow into `sink` (see MappedFlow). */
  flowSource(sink: MessageSink<In>): MessageFlow {
    return flowMessages(this.source, sink);
  }

  /** `map` on one value for a flow: SKIP, the mapped value, or a throw of the mapped failure (the stream is finished then). */
  mapOne(value: In): Out | typeof SKIP {
    const map = this.mapping.map;
    if (map === undefined) return value as unknown as Out;
    try {
      return map(value);
    } catch (err) {
      this.#finishOnce(false);
      throw this.#mapError(err);
    }
  }

  /** The source completed under a flow; what `finish` throws fails the stream. */
  completed(): void {
    this.#finishOnce(true);
  }

  /** The source failed under a flow: the error the consumer sees. */
  ended(err: unknown): unknown {
    this.#finishOnce(false);
    return this.#mapError(err);
  }

  /** The flow's consumer left. True when the source is still to be stopped. */
  left(): boolean {
    return this.#finishOnce(false);
  }

  #mapError(err: unknown): unknown {
    return this.mapping.error ? this.mapping.error(err) : err;
  }

  /** Marks the stream finished; true the first time only. */
  #finishOnce(complete: boolean): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.mapping.finish?.(complete);
    return true;
  }
}

/** A mapped stream flowing: each value mapped on its way down, with no promise. */
class MappedFlow<In, Out> implements MessageSink<In>, MessageFlow {
  #over = false;
  readonly #upstream: MessageFlow;

  constructor(
    private readonly mapped: MappedMessages<In, Out>,
    private readonly sink: MessageSink<Out>,
  ) {
    this.#upstream = mapped.flowSource(this);
  }

  value(value: In): void {
    if (this.#over) return;
    let out: Out | typeof SKIP;
    try {
      out = this.mapped.mapOne(value);
    } catch (err) {
      this.#over = true;
      this.#upstream.stop();
      this.sink.fail(err);
      return;
    }
    if (out !== SKIP) this.sink.value(out);
  }

  end(): void {
    if (this.#over) return;
    this.#over = true;
    try {
      this.mapped.completed();
    } catch (err) {
      this.sink.fail(err);
      return;
    }
    this.sink.end();
  }

  fail(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.sink.fail(this.mapped.ended(err));
  }

  pause(): void {
    this.#upstream.pause();
  }

  resume(): void {
    if (!this.#over) this.#upstream.resume();
  }

  stop(): void {
    if (this.#over) return;
    this.#over = true;
    if (this.mapped.left()) this.#upstream.stop();
  }
}

/**
 * Each value of `source` expanded into any number of values (`expand`), then
 * those of `atEnd` once the source completes: a translator's output, without
 * a generator. One `then` per source value; values queued from one expansion
 * cost none; as a flow (flow()), no promise at all. Stopping it stops the source.
 */
export function expandMessages<In, Out>(source: AsyncIterator<In>, expand: (value: In) => readonly Out[], atEnd: () => readonly Out[]): MessageStream<Out> {
  return new ExpandedMessages(source, expand, atEnd);
}

class ExpandedMessages<In, Out> implements MessageStream<Out>, FlowingStream<Out> {
  #ready: readonly Out[] = [];
  #index = 0;
  #sourceOver = false;

  constructor(
    private readonly source: AsyncIterator<In>,
    private readonly expand: (value: In) => readonly Out[],
    private readonly atEnd: () => readonly Out[],
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Out>> {
    if (this.#index < this.#ready.length) return Promise.resolve({ done: false, value: this.#ready[this.#index++] as Out });
    if (this.#sourceOver) return done();
    return this.source.next().then(this.#onResult, this.#onFailure);
  }

  return(): Promise<IteratorResult<Out>> {
    this.#stop();
    if (!this.#sourceOver) {
      this.#sourceOver = true;
      stopQuietly(this.source);
    }
    return done();
  }

  throw(err?: unknown): Promise<IteratorResult<Out>> {
    this.#stop();
    if (!this.#sourceOver) {
      this.#sourceOver = true;
      stopQuietly(this.source, err);
    }
    return Promise.reject(err);
  }

  readonly #onResult = (result: IteratorResult<In>): Promise<IteratorResult<Out>> => {
    if (result.done) {
      this.#sourceOver = true;
      this.#queue(this.atEnd());
    } else {
      try {
        this.#queue(this.expand(result.value));
      } catch (err) {
        this.#sourceOver = true;
        stopQuietly(this.source);
        throw err;
      }
    }
    return this.next();
  };

  readonly #onFailure = (err: unknown): never => {
    this.#sourceOver = true;
    this.#stop();
    throw err;
  };

  flow(sink: MessageSink<Out>): MessageFlow {
    // Values already queued by next() come first; the source then flows in.
    const queued = this.#ready.slice(this.#index);
    this.#stop();
    return new ExpandedFlow(queued, this.#sourceOver ? undefined : this.source, this.expand, this.atEnd, sink);
  }

  #queue(values: readonly Out[]): void {
    this.#ready = values;
    this.#index = 0;
  }

  #stop(): void {
    this.#ready = [];
    this.#index = 0;
  }
}

/**
 * An expanded stream flowing: each source value's expansion goes down at
 * once, through a PushedMessages that holds what the consumer cannot take
 * yet. Its high-water mark of one holds the source back as soon as one
 * value waits, so a consumer pausing mid-expansion gets the rest of that
 * expansion before anything more is taken from the source.
 */
class ExpandedFlow<In, Out> implements MessageSink<In>, MessageFlow {
  readonly #out: PushedMessages<Out>;
  readonly #upstream: MessageFlow | undefined;
  #started = false;

  constructor(
    queued: readonly Out[],
    source: AsyncIterator<In> | undefined,
    private readonly expand: (value: In) => readonly Out[],
    private readonly atEnd: () => readonly Out[],
    sink: MessageSink<Out>,
  ) {
    this.#out = new PushedMessages<Out>({ pause: () => this.#upstream?.pause(), resume: () => this.#upstream?.resume(), stop: () => this.#upstream?.stop() }, 1);
    for (const value of queued) this.#out.push(value);
    // No source: next() had read it to its end, and `queued` holds what followed.
    if (source === undefined) this.#out.end();
    else this.#upstream = flowMessages(source, this);
    this.#out.flow(sink);
  }

  value(value: In): void {
    let values: readonly Out[];
    try {
      values = this.expand(value);
    } catch (err) {
      this.#upstream?.stop();
      this.#out.fail(err);
      return;
    }
    for (const out of values) this.#out.push(out);
  }

  end(): void {
    let values: readonly Out[];
    try {
      values = this.atEnd();
    } catch (err) {
      this.#out.fail(err);
      return;
    }
    for (const out of values) this.#out.push(out);
    this.#out.end();
  }

  fail(err: unknown): void {
    this.#out.fail(err);
  }

  pause(): void {
    this.#out.pause();
  }

  resume(): void {
    this.#out.resume();
    // The source's flow starts paused, as every flow does: from here on the buffer holds it back.
    if (this.#started) return;
    this.#started = true;
    this.#upstream?.resume();
  }

  stop(): void {
    this.#out.stop();
  }
}

/**
 * `first`, then the values of `rest`: after the first value, next() is
 * `rest`'s own (no extra promise). Stopping it stops `rest`.
 */
export function startingWith<T>(first: T, rest: AsyncIterator<T>): MessageStream<T> {
  return new StartingWith(first, rest);
}

class StartingWith<T> implements MessageStream<T>, FlowingStream<T> {
  #first: { value: T } | undefined;

  constructor(
    first: T,
    private readonly rest: AsyncIterator<T>,
  ) {
    this.#first = { value: first };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const first = this.#first;
    if (first === undefined) return this.rest.next();
    this.#first = undefined;
    return Promise.resolve({ done: false, value: first.value });
  }

  return(): Promise<IteratorResult<T>> {
    this.#first = undefined;
    stopQuietly(this.rest);
    return done();
  }

  flow(sink: MessageSink<T>): MessageFlow {
    const first = this.#first;
    this.#first = undefined;
    return new FirstThenFlow(first, this.rest, sink);
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#first = undefined;
    stopQuietly(this.rest, err);
    return Promise.reject(err);
  }
}

/**
 * A flow that does something of its own on its first resume() (gives a
 * first value, starts a lazy stream), then hands over to another flow.
 */
abstract class HandOverFlow<T> implements MessageFlow {
  #inner: MessageFlow | undefined;
  protected paused = true;
  protected stopped = false;

  constructor(protected readonly sink: MessageSink<T>) {}

  pause(): void {
    this.paused = true;
    this.#inner?.pause();
  }

  resume(): void {
    if (this.stopped) return;
    this.paused = false;
    if (this.#inner !== undefined) this.#inner.resume();
    else this.begin();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.#inner !== undefined) this.#inner.stop();
    else this.abandon();
  }

  /** The work before the hand-over; it ends with handOver() (or the sink's end). */
  protected abstract begin(): void;
  /** Stopped before the hand-over. */
  protected abstract abandon(): void;

  protected handOver(source: AsyncIterator<T>): void {
    const inner = flowMessages(source, this.sink);
    this.#inner = inner;
    if (!this.paused) inner.resume();
  }
}

/** `first` to the sink on the first resume(), then the rest's flow. */
class FirstThenFlow<T> extends HandOverFlow<T> {
  constructor(
    private first: { value: T } | undefined,
    private readonly rest: AsyncIterator<T>,
    sink: MessageSink<T>,
  ) {
    super(sink);
  }

  protected begin(): void {
    const first = this.first;
    if (first !== undefined) {
      this.first = undefined;
      this.sink.value(first.value);
      if (this.paused || this.stopped) return;
    }
    this.handOver(this.rest);
  }

  protected abandon(): void {
    this.first = undefined;
    stopQuietly(this.rest);
  }
}

/**
 * The values of the iterator `start` resolves to, started by the first
 * next() (as a generator's body is). After that, next() is the started
 * iterator's own. A failure to start fails the first next() and ends the stream.
 */
export function lazyMessages<T>(start: () => Promise<AsyncIterator<T>>): MessageStream<T> {
  return new LazyMessages(start);
}

class LazyMessages<T> implements MessageStream<T>, FlowingStream<T> {
  /**
   * Dropped once called: what it closes over (a call's request, say) would
   * otherwise stay reachable for as long as the stream is open.
   */
  #start: (() => Promise<AsyncIterator<T>>) | undefined;
  #started: AsyncIterator<T> | undefined;
  #starting: Promise<AsyncIterator<T>> | undefined;
  #over = false;

  constructor(start: () => Promise<AsyncIterator<T>>) {
    this.#start = start;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#started !== undefined) return this.#started.next();
    if (this.#over) return done();
    return this.whenStarted().then((started) => (started === undefined ? DONE : started.next()));
  }

  #begin(): Promise<AsyncIterator<T>> {
    if (this.#starting === undefined) {
      const start = this.#start as () => Promise<AsyncIterator<T>>;
      this.#start = undefined;
      this.#starting = startOf(start);
    }
    return this.#starting;
  }

  flow(sink: MessageSink<T>): MessageFlow {
    if (this.#started !== undefined) return flowMessages(this.#started, sink);
    return new LazyFlow(this, sink);
  }

  /**
   * Starts (once, for next() or a flow): what started, or undefined when the
   * stream was stopped meanwhile (what started is stopped then). A failure
   * to start ends the stream and rejects.
   */
  whenStarted(): Promise<AsyncIterator<T> | undefined> {
    if (this.#started !== undefined) return Promise.resolve(this.#started);
    if (this.#over) return Promise.resolve(undefined);
    return this.#begin().then(
      (started) => {
        if (this.#over) {
          // Stopped while starting: what started is stopped too.
          stopQuietly(started);
          return undefined;
        }
        this.#started = started;
        return started;
      },
      (err: unknown) => {
        this.#over = true;
        throw err;
      },
    );
  }

  return(): Promise<IteratorResult<T>> {
    this.#over = true;
    this.#start = undefined;
    if (this.#started !== undefined) stopQuietly(this.#started);
    return done();
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#over = true;
    this.#start = undefined;
    if (this.#started !== undefined) stopQuietly(this.#started, err);
    return Promise.reject(err);
  }
}

/** A lazy stream flowing: started on the first resume(), then the started stream's flow. */
class LazyFlow<T> extends HandOverFlow<T> {
  #starting = false;

  constructor(
    private readonly lazy: LazyMessages<T>,
    sink: MessageSink<T>,
  ) {
    super(sink);
  }

  protected begin(): void {
    if (this.#starting) return;
    this.#starting = true;
    this.lazy.whenStarted().then(
      (started) => {
        if (this.stopped) return;
        if (started === undefined) this.sink.end();
        else this.handOver(started);
      },
      (err: unknown) => {
        if (!this.stopped) this.sink.fail(err);
      },
    );
  }

  protected abandon(): void {
    void this.lazy.return();
  }
}

/** What `start` resolves to; a synchronous throw rejects too, as from an async function. */
function startOf<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The producer side of `PushedMessages`: how to hold it back, let it go on, or stop it. */
export interface MessageProducer {
  /** The consumer is `highWaterMark` values behind: stop producing for now. */
  pause(): void;
  /** The consumer caught up after a pause. */
  resume(): void;
  /** The consumer left before the end: stop for good and release what the stream holds. */
  stop(): void;
}

/**
 * Values pushed by an event source (a Readable's 'data' events), pulled with
 * next(): one promise per value the consumer has to wait for, none for a
 * value already queued; or, once flowing (flow()), handed to the sink as
 * they are pushed, queued only while the flow is paused. At most
 * `highWaterMark` values queue before the producer is paused, so a slow
 * consumer holds back the producer (and through it, the network) instead of
 * buffering without bound. Values queued before an end or failure are still
 * delivered first. One consumer at a time.
 */
export class PushedMessages<T> implements MessageStream<T>, FlowingStream<T>, MessageFlow {
  #queue: T[] = [];
  #waiter: { resolve: (result: IteratorResult<T>) => void; reject: (err: unknown) => void } | undefined;
  /** No more values will come: the end, a failure, or the consumer left. */
  #over = false;
  #failure: { error: unknown } | undefined;
  #paused = false;
  /** Set by flow(): values go to it instead of to next()'s promises. */
  #sink: MessageSink<T> | undefined;
  #flowPaused = true;

  constructor(
    private readonly producer: MessageProducer,
    private readonly highWaterMark = 16,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Adds a value (ignored once the stream is over). */
  push(value: T): void {
    if (this.#over) return;
    const sink = this.#sink;
    if (sink !== undefined && !this.#flowPaused && this.#queue.length === 0) {
      sink.value(value);
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value });
      return;
    }
    this.#queue.push(value);
    if (!this.#paused && this.#queue.length >= this.highWaterMark) {
      this.#paused = true;
      this.producer.pause();
    }
  }

  /** The producer has no more values. */
  end(): void {
    if (this.#over) return;
    this.#over = true;
    this.#settleWaiter();
    this.#deliver();
  }

  /** The producer failed: the consumer gets `err` after the values already queued. */
  fail(err: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#failure = { error: err };
    this.#settleWaiter();
    this.#deliver();
  }

  /** From now on values go to `sink`, once resumed: this stream is its own flow. */
  flow(sink: MessageSink<T>): MessageFlow {
    this.#sink = sink;
    return this;
  }

  pause(): void {
    this.#flowPaused = true;
  }

  resume(): void {
    this.#flowPaused = false;
    this.#deliver();
  }

  stop(): void {
    this.#leave();
  }

  /** Hands a flow's sink what is queued, then the end or the failure, for as long as it is not paused. */
  #deliver(): void {
    const sink = this.#sink;
    if (sink === undefined || this.#flowPaused) return;
    while (this.#queue.length > 0) {
      sink.value(this.#queue.shift() as T);
      if (this.#sink !== sink || this.#flowPaused) return;
    }
    if (this.#paused) {
      this.#paused = false;
      this.producer.resume();
      // A producer may push, end or fail at once when resumed: that delivery has run in there.
      if (this.#sink !== sink || this.#flowPaused) return;
    }
    if (!this.#over) return;
    this.#sink = undefined;
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure === undefined) sink.end();
    else sink.fail(failure.error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#queue.length > 0) {
      const value = this.#queue.shift() as T;
      if (this.#paused && this.#queue.length === 0) {
        this.#paused = false;
        this.producer.resume();
      }
      return Promise.resolve({ done: false, value });
    }
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      return Promise.reject(failure.error);
    }
    if (this.#over) return done();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#leave();
    return done();
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#leave();
    return Promise.reject(err);
  }

  #leave(): void {
    this.#queue = [];
    this.#failure = undefined;
    this.#sink = undefined;
    if (this.#over) return;
    this.#over = true;
    this.#settleWaiter();
    this.producer.stop();
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    const failure = this.#failure;
    if (failure === undefined) {
      waiter.resolve(DONE);
      return;
    }
    this.#failure = undefined;
    waiter.reject(failure.error);
  }
}
