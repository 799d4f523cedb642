import { describe, expect, it } from "vitest";
import { retryAfterMs } from "./retry-after.js";

describe("retryAfterMs", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it.each([
    [{ "retry-after-ms": "1500.5", "retry-after": "9" }, 1501],
    [{ "retry-after": "2" }, 2000],
    [{ "retry-after": "0.25" }, 250],
    [{ "retry-after": "Wed, 01 Jan 2025 00:00:30 GMT" }, 30_000],
    [{ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }, 0],
    [{ "retry-after-ms": "soon", "retry-after": "3" }, 3000],
    [{ "retry-after": "whenever" }, undefined],
    [{ "retry-after": ["4", "5"] }, 4000],
    [{}, undefined],
  ])("reads %j as %s ms", (headers, expected) => {
    expect(retryAfterMs(headers, now)).toBe(expected);
  });
});
