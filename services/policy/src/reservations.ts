import { randomUUID } from "node:crypto";
import type { TokenBucket } from "./rate-limiter.js";

/** Capacity held by one admitted request until it settles. */
export interface Reservation {
  readonly keyId: string;
  readonly tenant: string;
  /** The key's token bucket at admission, when it has a TPM limit. */
  readonly tokenBucket: TokenBucket | undefined;
  /** Tokens taken from that bucket at admission. */
  readonly reservedTokens: number;
  readonly createdAt: number;
}

/** Options of {@link ReservationBook}. */
export interface ReservationBookOptions {
  /** A reservation not settled within this time is forgotten (its tokens stay charged). */
  ttlMs?: number;
  /** At most this many open reservations; the oldest are forgotten first. */
  maxOpen?: number;
}

/**
 * Open reservations (or leases) by id. A request whose router died never
 * settles, so entries expire; the oldest go first, which a Map's insertion
 * order makes O(1) per admission.
 */
export class ReservationBook<Entry extends { readonly createdAt: number } = Reservation> {
  readonly #open = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxOpen: number;

  constructor(options: ReservationBookOptions = {}) {
    // Long enough for the longest streamed answer; expiry is only a leak guard.
    this.#ttlMs = options.ttlMs ?? 60 * 60_000;
    this.#maxOpen = options.maxOpen ?? 100_000;
  }

  /** Stores an entry and returns its new id. */
  open(reservation: Entry): string {
    this.#expire(reservation.createdAt);
    const id = randomUUID();
    this.#open.set(id, reservation);
    return id;
  }

  /** Removes and returns the entry, or undefined if unknown (already closed or expired). */
  close(id: string): Entry | undefined {
    const found = this.#open.get(id);
    if (found) this.#open.delete(id);
    return found;
  }

  #expire(now: number): void {
    for (const [id, reservation] of this.#open) {
      if (this.#open.size < this.#maxOpen && now - reservation.createdAt < this.#ttlMs) return;
      this.#open.delete(id);
    }
  }
}
