import { Client, Dispatcher, errors } from "undici";

/**
 * Keep-alive connections to one upstream origin, any number of them, one
 * request at a time on each: what undici's Pool does, but finding a free
 * connection costs the same however many are busy. undici's Pool walks its
 * whole list of connections on every request, past every busy one: with
 * thousands of streams open to one upstream, that walk was over a quarter of
 * the adapter's CPU (a profile of 10,000 held streams). Here a connection
 * that finishes its request goes on top of a stack of free ones, and a
 * request takes the top one: the most recently used, so the warmest.
 */
export class UpstreamPool extends Dispatcher {
  readonly #origin: string;
  readonly #options: Client.Options;
  /** Free connections, the most recently freed last; entries closed since are skipped when reached. */
  readonly #free: PooledClient[] = [];
  /** Entries of `#free` that were closed while waiting there. */
  #closedFree = 0;
  readonly #clients = new Set<PooledClient>();
  #closing: Promise<void> | undefined;

  constructor(origin: string, options: Client.Options) {
    super();
    this.#origin = origin;
    this.#options = options;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closing) throw new errors.ClientClosedError();
    const client = this.#takeFree() ?? this.#open();
    // false: the connection is now busy and says so with 'drain' when it is free again.
    if (client.dispatch(options, handler)) this.#putFree(client);
    // Never saturated: a request with no free connection opens one.
    return true;
  }

  /** Lets requests in flight finish, then closes every connection. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.#closing ??= Promise.all([...this.#clients].map((client) => client.close())).then(() => undefined);
    if (callback === undefined) return this.#closing;
    void this.#closing.then(callback);
  }

  /** Ends every connection now; requests in flight fail with `err`. */
  override destroy(err?: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const err = typeof errOrCallback === "function" ? null : (errOrCallback ?? null);
    const done = typeof errOrCallback === "function" ? errOrCallback : callback;
    this.#closing ??= Promise.resolve();
    const destroyed = Promise.all([...this.#clients].map((client) => client.destroy(err))).then(() => undefined);
    if (done === undefined) return destroyed;
    void destroyed.then(done);
  }

  /** Connections open or opening, busy or free (for tests). */
  get connections(): number {
    return this.#clients.size;
  }

  #takeFree(): PooledClient | undefined {
    for (;;) {
      const client = this.#free.pop();
      if (client === undefined) return undefined;
      client.free = false;
      if (!client.closed && !client.destroyed) return client;
      this.#closedFree--;
    }
  }

  #putFree(client: PooledClient): void {
    if (client.free || client.closed || client.destroyed) return;
    // Freed without a socket (the upstream closed it, or it never opened): a
    // new request would have to connect anyway, and a new connection costs no
    // more than this one would reconnecting.
    if (!client.connected) return this.#drop(client);
    client.free = true;
    this.#free.push(client);
  }

  #drop(client: PooledClient): void {
    this.#clients.delete(client);
    void client.close().catch(() => undefined);
  }

  #open(): PooledClient {
    const client = new PooledClient(this.#origin, this.#options);
    this.#clients.add(client);
    client.on("drain", () => this.#putFree(client));
    client.on("connect", () => (client.connected = true));
    // An idle connection the upstream or the keep-alive timeout closed is let go
    // rather than reconnected later: after a burst, thousands would stay.
    client.on("disconnect", () => {
      client.connected = false;
      if (!client.free || this.#closing) return;
      this.#closedFree++;
      this.#drop(client);
      if (this.#closedFree > 64 && this.#closedFree * 2 > this.#free.length) this.#compact();
    });
    return client;
  }

  /** Drops closed entries from the stack of free connections, keeping its order. */
  #compact(): void {
    let kept = 0;
    for (const client of this.#free) if (!client.closed && !client.destroyed) this.#free[kept++] = client;
    this.#free.length = kept;
    this.#closedFree = 0;
  }
}

/** A connection of the pool: whether its socket is open, and whether it waits on the stack of free ones. */
class PooledClient extends Client {
  connected = false;
  free = false;
}
