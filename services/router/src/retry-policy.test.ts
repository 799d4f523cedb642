import { Code, ConnectError } from "@connectrpc/connect";
import { meshError } from "@llmmesh/common";
import { describe, expect, it } from "vitest";
import { backoffDelayMs, classifyAdapterError, type ErrorClass } from "./retry-policy.js";

const upstream = (code: Code, upstreamStatus: number) => meshError(code, "x", { reason: "upstream_error", upstreamStatus });

describe("classifyAdapterError", () => {
  const cases: Array<[string, ConnectError, ErrorClass]> = [
    ["503", upstream(Code.Unavailable, 503), "retry"],
    ["connection refused (no detail)", new ConnectError("connect ECONNREFUSED", Code.Unavailable), "retry"],
    ["per-attempt timeout", upstream(Code.DeadlineExceeded, 504), "retry"],
    ["409", upstream(Code.Aborted, 409), "retry"],
    ["500", upstream(Code.Internal, 500), "retry"],
    ["adapter crash without status", new ConnectError("boom", Code.Unknown), "retry"],
    ["402 mapped to Internal", upstream(Code.Internal, 402), "next"],
    ["429", upstream(Code.ResourceExhausted, 429), "rate_limited"],
    ["413 request too large", upstream(Code.ResourceExhausted, 413), "fatal"],
    ["401 from the provider", upstream(Code.Unauthenticated, 401), "misconfigured"],
    ["403 from the provider", upstream(Code.PermissionDenied, 403), "misconfigured"],
    ["404 upstream model", upstream(Code.NotFound, 404), "misconfigured"],
    ["adapter not set up", new ConnectError("no base_url", Code.FailedPrecondition), "misconfigured"],
    ["400", upstream(Code.InvalidArgument, 400), "fatal"],
    ["a request kind the target's model lacks", meshError(Code.InvalidArgument, "no completions", { reason: "unsupported_feature", param: "model" }), "unsupported"],
    ["cancelled", new ConnectError("gone", Code.Canceled), "fatal"],
    ["feature the adapter lacks", new ConnectError("no embeddings", Code.Unimplemented), "next"],
  ];
  it.each(cases)("%s → %s", (_name, error, expected) => {
    expect(classifyAdapterError(error).kind).toBe(expected);
  });

  it("reads the upstream's Retry-After", () => {
    const error = meshError(Code.ResourceExhausted, "slow down", { reason: "upstream_error", upstreamStatus: 429, retryAfterMs: 1234n });
    expect(classifyAdapterError(error)).toEqual({ kind: "rate_limited", retryAfterMs: 1234 });
  });
});

describe("backoffDelayMs", () => {
  it("draws uniformly below backoff × 2^retry", () => {
    expect(backoffDelayMs(0, 100, 0, () => 0.999)).toBe(99);
    expect(backoffDelayMs(3, 100, 0, () => 0.5)).toBe(400);
    expect(backoffDelayMs(3, 100, 0, () => 0)).toBe(0);
  });

  it("never waits less than the Retry-After", () => {
    expect(backoffDelayMs(0, 100, 2_000, () => 0.5)).toBe(2_000);
    expect(backoffDelayMs(5, 100, 2_000, () => 0.9)).toBe(2_880);
  });
});
