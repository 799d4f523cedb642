/**
 * A token bucket: holds up to `capacity` tokens and refills continuously at
 * `refillPerMs`. The level may go negative when a charge settles higher than
 * what was reserved; the caller then waits until it refills. Time is passed in
 * (milliseconds) so tests can drive it.
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly refillPerMs: number,
    now: number,
  ) {
    this.#tokens = capacity;
    this.#updatedAt = now;
  }

  /** The level at `now`, after refilling. */
  level(now: number): number {
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#updatedAt) * this.refillPerMs);
      this.#updatedAt = now;
    }
    return this.#tokens;
  }

  /** Removes `amount` tokens (adds them back when negative, never above capacity). */
  take(amount: number, now: number): void {
    this.#tokens = Math.min(this.capacity, this.level(now) - amount);
  }

  /** Whole milliseconds until the level reaches `target` (0 when it already has). */
  msUntil(target: number, now: number): number {
    const missing = target - this.level(now);
    if (missing <= 0) return 0;
    return Math.max(1, Math.ceil(missing / this.refillPerMs));
  }
}

/** The per-minute limits of one key. */
export interface KeyLimits {
  rpm: number | undefined;
  tpm: number | undefined;
}

/** The buckets enforcing one key's limits; a bucket is absent when its limit is not set. */
export interface KeyBuckets {
  readonly limits: KeyLimits;
  readonly requests: TokenBucket | undefined;
  readonly tokens: TokenBucket | undefined;
}

const MS_PER_MINUTE = 60_000;

function perMinuteBucket(limit: number | undefined, now: number): TokenBucket | undefined {
  return limit === undefined ? undefined : new TokenBucket(limit, limit / MS_PER_MINUTE, now);
}

/**
 * The buckets of every key, by key id, in memory. A key keeps its buckets
 * across config reloads as long as its limits are unchanged, so a reload does
 * not hand everyone a fresh minute of capacity.
 */
export class RateLimiter {
  readonly #byKey = new Map<string, KeyBuckets>();

  /** The buckets of `keyId`, made (or remade, when its limits changed) as needed. */
  bucketsFor(keyId: string, limits: KeyLimits, now: number): KeyBuckets {
    const found = this.#byKey.get(keyId);
    if (found && found.limits.rpm === limits.rpm && found.limits.tpm === limits.tpm) return found;
    const made: KeyBuckets = {
      limits: { rpm: limits.rpm, tpm: limits.tpm },
      requests: perMinuteBucket(limits.rpm, now),
      tokens: perMinuteBucket(limits.tpm, now),
    };
    this.#byKey.set(keyId, made);
    return made;
  }

  /** The buckets `keyId` has now, without making any. */
  existing(keyId: string): KeyBuckets | undefined {
    return this.#byKey.get(keyId);
  }

  /** Forgets the buckets of keys no longer configured. */
  retain(keyIds: ReadonlySet<string>): void {
    for (const keyId of this.#byKey.keys()) if (!keyIds.has(keyId)) this.#byKey.delete(keyId);
  }
}
