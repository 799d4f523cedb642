import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { isMessage } from "@bufbuild/protobuf";
import { healthV1 } from "@llmmesh/proto";
import { collectImplementations, createDirectTransport } from "./direct-transport.js";

const { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: Status } = healthV1;

describe("createDirectTransport", () => {
  it("calls the implementation with the caller's headers and returns real messages", async () => {
    let seenHeader: string | null = null;
    const transport = createDirectTransport(
      collectImplementations((router) =>
        router.service(Health, {
          check(req, ctx) {
            seenHeader = ctx.requestHeader.get("authorization");
            ctx.responseHeader.set("x-served", req.service);
            // A plain init object, as implementations may return.
            return { status: Status.SERVING };
          },
        }),
      ),
    );
    const client = createClient(Health, transport);
    let responseHeader: Headers | undefined;
    const answer = await client.check({ service: "svc" }, { headers: { authorization: "Bearer k" }, onHeader: (h) => (responseHeader = h) });
    expect(seenHeader).toBe("Bearer k");
    expect(responseHeader?.get("x-served")).toBe("svc");
    expect(isMessage(answer, HealthCheckResponseSchema)).toBe(true);
    expect(answer.status).toBe(Status.SERVING);
  });

  it("streams server messages and runs interceptors", async () => {
    const calls: string[] = [];
    const recording: Interceptor = (next) => async (req) => {
      calls.push(req.method.name);
      return next(req);
    };
    const transport = createDirectTransport(
      collectImplementations((router) =>
        router.service(Health, {
          async *watch() {
            yield { status: Status.NOT_SERVING };
            yield { status: Status.SERVING };
          },
        }),
      ),
      { interceptors: [recording] },
    );
    const statuses: number[] = [];
    for await (const message of createClient(Health, transport).watch({})) statuses.push(message.status);
    expect(statuses).toEqual([Status.NOT_SERVING, Status.SERVING]);
    expect(calls).toEqual(["Watch"]);
  });

  it("passes errors through with their code, and wraps foreign ones", async () => {
    const transport = createDirectTransport(
      collectImplementations((router) =>
        router.service(Health, {
          check(req) {
            if (req.service === "connect") throw new ConnectError("nope", Code.NotFound);
            throw new Error("plain failure");
          },
        }),
      ),
    );
    const client = createClient(Health, transport);
    await expect(client.check({ service: "connect" })).rejects.toMatchObject({ code: Code.NotFound, rawMessage: "nope" });
    const foreign = await client.check({ service: "other" }).catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(ConnectError);
    expect((foreign as ConnectError).rawMessage).toBe("plain failure");
    await expect(client.list({})).rejects.toMatchObject({ code: Code.Unimplemented });
  });

  it("enforces the deadline on the callee through ctx.signal", async () => {
    let calleeAborted = false;
    const transport = createDirectTransport(
      collectImplementations((router) =>
        router.service(Health, {
          check: (_req, ctx) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener("abort", () => {
                calleeAborted = true;
                reject(ctx.signal.reason);
              });
            }),
        }),
      ),
    );
    await expect(createClient(Health, transport).check({}, { timeoutMs: 20 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(calleeAborted).toBe(true);
  });

  it("ends the callee's stream when the caller cancels", async () => {
    let finished = false;
    const transport = createDirectTransport(
      collectImplementations((router) =>
        router.service(Health, {
          async *watch(_req, ctx) {
            try {
              yield { status: Status.SERVING };
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
            } finally {
              finished = true;
            }
          },
        }),
      ),
    );
    const controller = new AbortController();
    const received: number[] = [];
    const consume = (async () => {
      for await (const message of createClient(Health, transport).watch({}, { signal: controller.signal })) {
        received.push(message.status);
        controller.abort();
      }
    })();
    await expect(consume).rejects.toMatchObject({ code: Code.Canceled });
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual([Status.SERVING]);
    expect(finished).toBe(true);
  });
});
