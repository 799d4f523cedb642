import { describe, expect, it } from "vitest";
import { RateLimiter, TokenBucket } from "./rate-limiter.js";

describe("TokenBucket", () => {
  it("starts full, refills continuously and never above capacity", () => {
    const bucket = new TokenBucket(60, 60 / 60_000, 0);
    bucket.take(60, 0);
    expect(bucket.level(0)).toBe(0);
    expect(bucket.level(500)).toBeCloseTo(0.5);
    expect(bucket.msUntil(1, 500)).toBe(500);
    expect(bucket.level(10 * 60_000)).toBe(60);
  });

  it("goes negative on an overcharge and gives back an undercharge up to capacity", () => {
    const bucket = new TokenBucket(100, 100 / 60_000, 0);
    bucket.take(150, 0);
    expect(bucket.level(0)).toBe(-50);
    expect(bucket.msUntil(1, 0)).toBe(Math.ceil(51 / (100 / 60_000)));
    bucket.take(-500, 0);
    expect(bucket.level(0)).toBe(100);
  });
});

describe("RateLimiter", () => {
  it("keeps a key's buckets while its limits stay the same and drops removed keys", () => {
    const limiter = new RateLimiter();
    const first = limiter.bucketsFor("k", { rpm: 10, tpm: undefined }, 0);
    expect(limiter.bucketsFor("k", { rpm: 10, tpm: undefined }, 0)).toBe(first);
    expect(first.tokens).toBeUndefined();
    const changed = limiter.bucketsFor("k", { rpm: 20, tpm: undefined }, 0);
    expect(changed).not.toBe(first);
    limiter.retain(new Set(["other"]));
    expect(limiter.bucketsFor("k", { rpm: 20, tpm: undefined }, 0)).not.toBe(changed);
  });
});
