import { describe, expect, it } from "vitest";
import type { ServiceImpl, Transport } from "@connectrpc/connect";
import { healthV1 } from "@llmmesh/proto";
import { isCollectable } from "../../../../test/support/collectable.js";
import { createServiceTransport, serviceClient } from "../clients.js";
import { collectImplementations, createDirectTransport } from "../mesh/direct-transport.js";
import { silentLogger } from "../logger.js";
import { startServer } from "../server.js";
import { lazyMessages, PushedMessages } from "../stream-iterators.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = healthV1;

/** Answers once, then holds the stream open until the call ends; keeps nothing of the request. */
const heldOpen: Partial<ServiceImpl<typeof Health>> = {
  watch: (_req, ctx) =>
    lazyMessages(async () => {
      const messages = new PushedMessages<{ status: healthV1.HealthCheckResponse_ServingStatus }>({ pause() {}, resume() {}, stop() {} });
      messages.push({ status: Status.SERVING });
      ctx.signal.addEventListener("abort", () => messages.end(), { once: true });
      return messages;
    }),
};
const register = (router: Parameters<Parameters<typeof collectImplementations>[0]>[0]) => router.service(Health, heldOpen);

/**
 * Opens a stream whose request only this function held, reads its first
 * message, and says whether the request can be collected while the stream is
 * still open: a request can be a whole conversation, and a gateway holds
 * thousands of streams.
 */
async function requestCollectableWhileOpen(transport: Transport): Promise<boolean> {
  const client = serviceClient(Health, transport);
  const { stream, request } = (() => {
    const init = { service: "x".repeat(64 * 1024) };
    return { stream: client.watch(init)[Symbol.asyncIterator](), request: new WeakRef(init) };
  })();
  const first = await stream.next();
  expect(first.value?.status).toBe(Status.SERVING);
  const collectable = await isCollectable(request);
  await stream.return?.();
  return collectable;
}

describe("a stream in flight", () => {
  it("does not keep its request over the network", async () => {
    const server = await startServer({ host: "127.0.0.1", port: 0, services: [], routes: register, maxMessageBytes: 1024 * 1024, logger: silentLogger });
    const transport = createServiceTransport(server.url, { maxMessageBytes: 1024 * 1024 });
    try {
      expect(await requestCollectableWhileOpen(transport)).toBe(true);
    } finally {
      await transport.close();
      await server.close(100);
    }
  });

  it("does not keep its request in process", async () => {
    expect(await requestCollectableWhileOpen(createDirectTransport(collectImplementations(register)))).toBe(true);
  });
});
