import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { healthV1 } from "@llmmesh/proto";
import { collectImplementations, createDirectTransport } from "../mesh/direct-transport.js";
import { markDeadline, unmarkDeadline } from "./call-signal.js";

const { Health } = healthV1;

/** A Health service whose calls and streams wait until their signal fires, then fail with its reason. */
function hangingHealth() {
  const transport = createDirectTransport(
    collectImplementations((router) =>
      router.service(Health, {
        check: (_req, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
        async *watch(_req, ctx) {
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          if (ctx.signal.aborted) throw ctx.signal.reason;
          yield {};
        },
      }),
    ),
  );
  return createClient(Health, transport);
}

const REQUEST_DEADLINE = "the request's own deadline passed";

/**
 * A caller's signal marked to fire within `ms` that fires with its own
 * message `lateMs` after that: late enough that a call which kept a timer of
 * its own would end first, with the call's message.
 */
function requestDeadline(ms: number, lateMs = 0): AbortSignal {
  const controller = new AbortController();
  markDeadline(controller.signal, performance.now() + ms);
  setTimeout(() => controller.abort(new ConnectError(REQUEST_DEADLINE, Code.DeadlineExceeded)), ms + lateMs);
  return controller.signal;
}

/** A caller's signal marked to fire within `ms` that never does: a broken promise, which a call must not trust. */
function brokenPromise(ms: number): AbortSignal {
  const signal = new AbortController().signal;
  markDeadline(signal, performance.now() + ms);
  return signal;
}

describe("calls on a caller's deadline", () => {
  it("a unary call whose caller fires by its deadline ends by the caller's signal, not a timer of its own", async () => {
    const err = await hangingHealth()
      .check({}, { signal: requestDeadline(30, 20), timeoutMs: 30 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.DeadlineExceeded, rawMessage: REQUEST_DEADLINE });
  });

  it("a unary call with an earlier deadline than its caller's keeps its own", async () => {
    const err = await hangingHealth()
      .check({}, { signal: requestDeadline(2_000), timeoutMs: 20 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the deadline of 20 ms passed" });
  });

  it("a mark taken back is not relied on", async () => {
    const signal = brokenPromise(20);
    unmarkDeadline(signal);
    await expect(hangingHealth().check({}, { signal, timeoutMs: 20 })).rejects.toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the deadline of 20 ms passed" });
  });

  it("a stream keeps its own deadline whatever its caller promises (a stream may outlive the request's deadline)", async () => {
    const consume = async () => {
      for await (const _ of hangingHealth().watch({}, { signal: brokenPromise(20), timeoutMs: 20 })) {
        // nothing arrives
      }
    };
    await expect(consume()).rejects.toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the deadline of 20 ms passed" });
  });
});
