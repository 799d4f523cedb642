import type { ConfigSnapshot } from "./snapshot.js";

/**
 * Where services get the current config. Handlers call `current()` once per
 * request and keep that snapshot; watchers (file, NATS) call `apply()` to swap
 * a whole new revision in.
 */
export class ConfigStore {
  #current: ConfigSnapshot;
  readonly #listeners = new Set<(snapshot: ConfigSnapshot) => void>();

  constructor(initial: ConfigSnapshot) {
    this.#current = initial;
  }

  /** The snapshot to use for a request starting now. */
  current(): ConfigSnapshot {
    return this.#current;
  }

  /** Swaps in a new revision and tells subscribers. */
  apply(next: ConfigSnapshot): void {
    this.#current = next;
    for (const listener of this.#listeners) listener(next);
  }

  /** Calls `listener` on every applied revision; returns the unsubscribe function. */
  subscribe(listener: (snapshot: ConfigSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
