import { describe, expect, it } from "vitest";
import { ReservationBook, type Reservation } from "./reservations.js";

const reservation = (createdAt: number): Reservation => ({ keyId: "k", tenant: "t", tokenBucket: undefined, reservedTokens: 0, createdAt });

describe("ReservationBook", () => {
  it("closes a reservation once; a second close finds nothing", () => {
    const book = new ReservationBook();
    const id = book.open(reservation(0));
    expect(book.close(id)?.keyId).toBe("k");
    expect(book.close(id)).toBeUndefined();
  });

  it("forgets reservations older than the TTL when new ones open", () => {
    const book = new ReservationBook({ ttlMs: 1_000 });
    const old = book.open(reservation(0));
    const recent = book.open(reservation(500));
    book.open(reservation(1_200));
    expect(book.close(old)).toBeUndefined();
    expect(book.close(recent)).toBeDefined();
  });

  it("keeps at most maxOpen reservations, dropping the oldest", () => {
    const book = new ReservationBook({ maxOpen: 2 });
    const first = book.open(reservation(0));
    const second = book.open(reservation(0));
    const third = book.open(reservation(0));
    expect(book.close(first)).toBeUndefined();
    expect(book.close(second)).toBeDefined();
    expect(book.close(third)).toBeDefined();
  });
});
