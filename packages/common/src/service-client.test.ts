import { describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { healthV1 } from "@llmmesh/proto";
import { serviceClient } from "./clients.js";
import { collectImplementations, createDirectTransport } from "./mesh/direct-transport.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = healthV1;

/** Watch streams statuses; the requested service name picks a behaviour. */
function health(calls: string[]): ServiceImpl<typeof Health> {
  return {
    check(req) {
      return { status: req.service === "up" ? Status.SERVING : Status.NOT_SERVING };
    },
    async *watch(req, ctx) {
      calls.push(req.service);
      ctx.responseHeader.set("x-watched", req.service);
      ctx.responseTrailer.set("x-ended", "yes");
      if (req.service === "endless") {
        // Ends when the caller leaves: through return() where the transport passes it on, or its signal.
        try {
          while (!ctx.signal.aborted) yield await new Promise<{ status: number }>((resolve) => setTimeout(() => resolve({ status: Status.SERVING }), 5));
        } finally {
          calls.push("callee stopped");
        }
        return;
      }
      yield { status: Status.SERVING };
      if (req.service === "fail") throw new ConnectError("broke after one", Code.Unavailable);
      yield { status: Status.NOT_SERVING };
    },
    async list() {
      return { statuses: {} };
    },
  };
}

const transports = {
  "in-memory Connect": (calls: string[]) => createRouterTransport((router) => router.service(Health, health(calls))),
  direct: (calls: string[]) => createDirectTransport(collectImplementations((router) => router.service(Health, health(calls)))),
};

describe.each(Object.entries(transports))("serviceClient over %s", (_name, transportFor) => {
  it("streams every message, then calls onHeader before and onTrailer after them", async () => {
    const calls: string[] = [];
    const client = serviceClient(Health, transportFor(calls));
    const seen: string[] = [];
    let header: Headers | undefined;
    const stream = client.watch(
      { service: "svc" },
      {
        onHeader: (h) => {
          seen.push("header");
          header = h;
        },
        onTrailer: (t) => seen.push(`trailer ${t.get("x-ended")}`),
      },
    );
    for await (const message of stream) seen.push(`status ${message.status}`);
    expect(seen).toEqual(["header", `status ${Status.SERVING}`, `status ${Status.NOT_SERVING}`, "trailer yes"]);
    // In process the header object is the callee's own, filled as it runs.
    expect(header?.get("x-watched")).toBe("svc");
  });

  it("ends with the callee's error after the messages sent before it", async () => {
    const client = serviceClient(Health, transportFor([]));
    const statuses: number[] = [];
    const failure = (async () => {
      for await (const message of client.watch({ service: "fail" })) statuses.push(message.status);
    })();
    await expect(failure).rejects.toMatchObject({ code: Code.Unavailable, rawMessage: "broke after one" });
    expect(statuses).toEqual([Status.SERVING]);
  });

  it("still makes unary calls through Connect's client", async () => {
    const client = serviceClient(Health, transportFor([]));
    expect((await client.check({ service: "up" })).status).toBe(Status.SERVING);
  });
});

// Connect's in-memory transport does not pass a caller's cancellation on to a
// streaming handler (its own client behaves the same), so this holds for the
// transports the mesh uses by default: direct in process, and the network one
// (fast-stream.test.ts).
it("serviceClient over direct stops the callee when the caller leaves the stream early and cancels the call", async () => {
  // As the gateway leaves a router stream when its client goes away: the call's signal
  // follows the client's, then iteration stops.
  const calls: string[] = [];
  const client = serviceClient(Health, transports.direct(calls));
  const controller = new AbortController();
  for await (const message of client.watch({ service: "endless" }, { signal: controller.signal })) {
    expect(message.status).toBe(Status.SERVING);
    controller.abort();
    break;
  }
  await expect.poll(() => calls).toContain("callee stopped");
});
