import { afterEach, describe, expect, it } from "vitest";
import * as http from "node:http";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { PolicyService, ErrorDetailSchema } from "@llmmesh/proto";
import { startServer, type RunningServer } from "../server.js";
import { createServiceTransport } from "../clients.js";
import { silentLogger } from "../logger.js";
import { meshError, errorDetailOf, Reason } from "../errors.js";

const LIMIT = 64 * 1024;
let server: RunningServer | undefined;
const closers: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  await server?.close(100);
  server = undefined;
  for (const close of closers.splice(0)) await close();
});

/** A policy implementation that echoes, fails, hangs or reports cancellation, by model name. */
function policy(events: string[]): Partial<ServiceImpl<typeof PolicyService>> {
  return {
    async admit(req, ctx) {
      if (req.model === "fail") throw meshError(Code.ResourceExhausted, "slow down", { reason: Reason.RateLimited, retryAfterMs: 250n });
      if (req.model === "hang") {
        // Cancelled already when it starts, or later.
        if (!ctx.signal.aborted) await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        events.push(`aborted: ${(ctx.signal.reason as ConnectError).code}`);
        throw ctx.signal.reason;
      }
      ctx.responseHeader.set("x-echo", ctx.requestHeader.get("authorization") ?? "");
      ctx.responseTrailer.set("x-trailed", req.model);
      return { reservationId: `r-${req.model}`, principal: { tenant: "t" } };
    },
  };
}

async function start(events: string[] = []) {
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    services: [PolicyService],
    routes: (router) => router.service(PolicyService, policy(events)),
    maxMessageBytes: LIMIT,
    logger: silentLogger,
  });
  return server.url;
}

// Every case runs over the multiplexed connection our servers offer, and over HTTP/1.1 (what a peer that does not offer it gets).
describe.each([
  { over: "the multiplexed connection", multiplex: true },
  { over: "HTTP/1.1", multiplex: false },
])("fast unary path, over $over", ({ multiplex }) => {
  function fastClient(url: string) {
    const transport = createServiceTransport(url, { maxMessageBytes: LIMIT, multiplex });
    closers.push(() => transport.close());
    return createClient(PolicyService, transport);
  }

  it("round-trips messages, headers and trailers", async () => {
    const client = fastClient(await start());
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const answer = await client.admit({ model: "m1" }, { headers: { authorization: "Bearer k" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
    expect(answer.reservationId).toBe("r-m1");
    expect(answer.principal?.tenant).toBe("t");
    expect(header?.get("x-echo")).toBe("Bearer k");
    expect(trailer?.get("x-trailed")).toBe("m1");
  });

  it("does not send a call whose signal fired before it started", async () => {
    const events: string[] = [];
    const client = fastClient(await start(events));
    await expect(client.admit({ model: "hang" }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: Code.Canceled });
    expect((await client.admit({ model: "after" })).reservationId).toBe("r-after");
    expect(events).toEqual([]);
  });

  it("carries error codes and structured details", async () => {
    const client = fastClient(await start());
    const err = await client.admit({ model: "fail" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toBe("slow down");
    expect(errorDetailOf(err as ConnectError)).toMatchObject({ reason: "rate_limited", retryAfterMs: 250n });
  });

  it("enforces the caller's deadline on both sides", async () => {
    const events: string[] = [];
    const client = fastClient(await start(events));
    await expect(client.admit({ model: "hang" }, { timeoutMs: 50 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    // The server's own timer and the caller hanging up race: either way its work stops.
    await expect.poll(() => events).toHaveLength(1);
    expect([`aborted: ${Code.DeadlineExceeded}`, `aborted: ${Code.Canceled}`]).toContain(events[0]);
  });

  it("cancels the server's work when the caller aborts", async () => {
    const events: string[] = [];
    const client = fastClient(await start(events));
    const controller = new AbortController();
    const call = client.admit({ model: "hang" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    await expect.poll(() => events).toEqual([`aborted: ${Code.Canceled}`]);
  });

  it("stays up when a call is cancelled the moment it is sent, before its server reads the failing answer", async () => {
    const events: string[] = [];
    const client = fastClient(await start(events));
    // A connection that is open already: the call and its cancellation leave together.
    expect((await client.admit({ model: "warm" })).reservationId).toBe("r-warm");
    const controller = new AbortController();
    const call = client.admit({ model: "hang" }, { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    // Over HTTP/1.1 the request may never leave; on the multiplexed connection its Open and Cancel frames leave together.
    if (multiplex) await expect.poll(() => events).toEqual([`aborted: ${Code.Canceled}`]);
    expect((await client.admit({ model: "after" })).reservationId).toBe("r-after");
  });

  it("refuses messages over the limit on either side", async () => {
    const client = fastClient(await start());
    await expect(client.admit({ model: "x".repeat(LIMIT + 10) })).rejects.toMatchObject({ code: Code.ResourceExhausted });
    const generic = createClient(PolicyService, createConnectTransport({ baseUrl: server!.url, httpVersion: "1.1", useBinaryFormat: true }));
    await expect(generic.admit({ model: "x".repeat(LIMIT + 10) })).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("reports an unreachable peer as Unavailable", async () => {
    const url = await start();
    await server!.close(100);
    server = undefined;
    await expect(fastClient(url).admit({ model: "m" })).rejects.toMatchObject({ code: Code.Unavailable });
  });

  it("speaks the Connect protocol: standard Connect clients and servers interoperate with it", async () => {
    // A standard Connect client (HTTP/1.1, binary) reaches the fast server path.
    const url = await start();
    const generic = createClient(PolicyService, createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true }));
    expect((await generic.admit({ model: "g" })).reservationId).toBe("r-g");
    const failed = (await generic.admit({ model: "fail" }).catch((e: unknown) => e)) as ConnectError;
    expect(failed.findDetails(ErrorDetailSchema)[0]?.reason).toBe("rate_limited");

    // The fast client reaches a standard Connect server.
    const plain = http.createServer(connectNodeAdapter({ routes: (router) => router.service(PolicyService, policy([])) }));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => plain.close(resolve)));
    plain.closeIdleConnections();
    const address = plain.address() as { port: number };
    const client = fastClient(`http://127.0.0.1:${address.port}`);
    expect((await client.admit({ model: "s" })).reservationId).toBe("r-s");
    await expect(client.admit({ model: "fail" })).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "slow down" });
  });
});
