import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { healthV1 } from "@llmmesh/proto";
import { followCancellation } from "./handler-context.js";
import { ServerCall } from "./server-call.js";

const method = healthV1.Health.method.check;

function call(headers: Record<string, string> = {}): ServerCall {
  return new ServerCall(method, "/grpc.health.v1.Health/Check", headers);
}

describe("ServerCall's cancellation", () => {
  it("reaches its followers and its signal, made before or after, with one reason", () => {
    const c = call();
    const early = c.signal;
    const followed: unknown[] = [];
    followCancellation(c.ctx, (reason) => followed.push(reason));
    c.callerLeft();
    c.abort(new ConnectError("a second reason", Code.Internal));
    expect(followed).toHaveLength(1);
    expect(followed[0]).toMatchObject({ code: Code.Canceled });
    expect(early.reason).toBe(followed[0]);
    expect(c.signal.aborted).toBe(true);
    expect(call().signal.aborted).toBe(false);
    // Made after the cancellation, the signal says so too.
    const late = call();
    late.callerLeft();
    expect(late.signal.reason).toBe(late.cancelReason);
  });

  it("tells a follower at once when the call is cancelled already, and nothing after it stopped following", () => {
    const c = call();
    c.abort(new ConnectError("gone", Code.Canceled));
    const atOnce: unknown[] = [];
    followCancellation(c.ctx, (reason) => atOnce.push(reason));
    expect(atOnce).toEqual([c.cancelReason]);

    const other = call();
    const never: unknown[] = [];
    const unfollow = followCancellation(other.ctx, (reason) => never.push(reason));
    unfollow();
    other.callerLeft();
    expect(never).toEqual([]);
  });

  it("cancels followers with DeadlineExceeded once the caller's connect-timeout-ms passes", async () => {
    const c = call({ "connect-timeout-ms": "20" });
    const reason = await new Promise<unknown>((resolve) => followCancellation(c.ctx, resolve));
    expect(reason).toMatchObject({ code: Code.DeadlineExceeded });
    c.finish();
  });

  it("is no cancellation once the call was answered", () => {
    const c = call();
    const followed: unknown[] = [];
    followCancellation(c.ctx, (reason) => followed.push(reason));
    c.markAnswered();
    c.callerLeft();
    expect(followed).toEqual([]);
    expect(c.cancelReason).toBeUndefined();
  });
});
