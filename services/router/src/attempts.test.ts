import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorDetailOf, meshError } from "@llmmesh/common";
import { TargetSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { runAttempts, type AttemptLoopOptions, type Candidate } from "./attempts.js";
import type { RequestDeadline } from "./deadline.js";
import type { PlannedTarget } from "./targets.js";

const planned = (provider: string): PlannedTarget => ({
  provider,
  adapterName: "fake",
  target: create(TargetSchema, { provider, model: `${provider}-model` }),
  servedBy: `${provider}/${provider}-model`,
});

/** A deadline with a hand-set amount of time left. */
function fixedDeadline(remaining: { ms: number }): RequestDeadline {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    remainingMs: () => remaining.ms,
    check(marginMs = 0) {
      if (remaining.ms <= marginMs) throw meshError(Code.DeadlineExceeded, "out of time", { reason: "upstream_timeout" });
    },
    disarm() {},
    dispose() {},
    cancel() {
      controller.abort();
    },
  };
}

function loop(outcomes: Record<string, Array<ConnectError | string>>, overrides: Partial<AttemptLoopOptions<string, string>> = {}) {
  const calls: string[] = [];
  const delays: number[] = [];
  const candidates: Candidate<string>[] = Object.keys(outcomes).map((p) => ({ planned: planned(p), client: p }));
  const run = runAttempts<string, string>({
    model: "m",
    candidates,
    retries: 1,
    backoffMs: 100,
    deadline: fixedDeadline({ ms: 1_000 }),
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 1 - Number.EPSILON,
    call: async (client) => {
      calls.push(client);
      const next = outcomes[client]!.shift() ?? "ok";
      if (next instanceof ConnectError) throw next;
      return `${client}:${next}`;
    },
    ...overrides,
  });
  return { run, calls, delays };
}

const unavailable = (retryAfterMs = 0n) => meshError(Code.Unavailable, "down", { reason: "upstream_error", upstreamStatus: 503, retryAfterMs });

describe("runAttempts", () => {
  it("reports the value, the target that produced it and the attempts it took", async () => {
    const { run, calls, delays } = loop({ a: [unavailable()], b: [] });
    const result = await run;
    expect(result).toMatchObject({ ok: true, value: "a:ok", attempts: 2, target: { provider: "a" } });
    expect(calls).toEqual(["a", "a"]);
    expect(delays).toEqual([99]);
  });

  it("moves to the next target instead of waiting longer than the time left", async () => {
    const { run, calls, delays } = loop({ a: [unavailable(5_000n)], b: [] });
    expect(await run).toMatchObject({ ok: true, value: "b:ok", attempts: 2 });
    expect(calls).toEqual(["a", "b"]);
    expect(delays).toEqual([]);
  });

  it("takes an adapter's timeout at the very end of our deadline as our own, without trying another target", async () => {
    const adapterTimeout = meshError(Code.DeadlineExceeded, "adapter timer", { reason: "upstream_timeout" });
    const { run, calls } = loop({ a: [adapterTimeout], b: [] }, { deadline: fixedDeadline({ ms: 20 }) });
    const result = await run;
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    expect(calls).toEqual(["a"]);
    expect(result.ok ? "" : result.error.rawMessage).toBe("out of time");
  });

  it("skips targets without an adapter and counts only real attempts", async () => {
    const candidates: Candidate<string>[] = [
      { planned: planned("gone"), client: undefined },
      { planned: planned("b"), client: "b" },
    ];
    const { run, calls } = loop({ b: [] }, { candidates });
    expect(await run).toMatchObject({ ok: true, value: "b:ok", attempts: 1 });
    expect(calls).toEqual(["b"]);
  });

  it("treats the last target with an adapter as the last one for 429 retries", async () => {
    const rateLimited = meshError(Code.ResourceExhausted, "slow down", { reason: "upstream_error", upstreamStatus: 429, retryAfterMs: 200n });
    const candidates: Candidate<string>[] = [
      { planned: planned("a"), client: "a" },
      { planned: planned("gone"), client: undefined },
    ];
    const { run, calls, delays } = loop({ a: [rateLimited] }, { candidates });
    expect(await run).toMatchObject({ ok: true, attempts: 2 });
    expect(calls).toEqual(["a", "a"]);
    expect(delays).toEqual([200]);
  });

  it("reports the deadline, not the adapter's error, when time ran out during an attempt", async () => {
    const remaining = { ms: 1_000 };
    const { run } = loop(
      { a: [] },
      {
        deadline: fixedDeadline(remaining),
        call: async () => {
          remaining.ms = 0;
          throw new ConnectError("socket closed", Code.Unavailable);
        },
      },
    );
    const result = await run;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(Code.DeadlineExceeded);
    expect(result.attempts).toBe(1);
  });

  it("keeps the last error's detail and names the model and attempt count", async () => {
    const { run } = loop({ a: [unavailable(), unavailable(30n)] });
    const result = await run;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(Code.Unavailable);
    expect(errorDetailOf(result.error)).toMatchObject({ upstreamStatus: 503, retryAfterMs: 30n, provider: "a", attempts: 2 });
    expect(result.error.rawMessage).toBe("The model 'm' failed after 2 attempts; the last error (provider 'a'): down");
    expect(result.target?.provider).toBe("a");
  });
});
