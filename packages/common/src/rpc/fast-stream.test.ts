import { afterEach, describe, expect, it } from "vitest";
import * as http2 from "node:http2";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { AdapterService, healthV1 } from "@llmmesh/proto";
import { startServer, type RunningServer } from "../server.js";
import { createServiceTransport, serviceClient } from "../clients.js";
import { silentLogger } from "../logger.js";
import { followCancellation, requestHeaderValue } from "./handler-context.js";
import { forwardableErrors } from "../mesh/interceptors.js";
import { isCollectable } from "../../../../test/support/collectable.js";
import { promisesMadeWhile } from "../../../../test/support/promises-made.js";
import { sendEach } from "../message-flow.js";
import { PushedMessages } from "../stream-iterators.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = healthV1;
let server: RunningServer | undefined;
const closers: Array<() => Promise<unknown> | void> = [];
/** Implementations stalled on purpose, released after each test. */
const stalled: Array<() => void> = [];
afterEach(async () => {
  for (const release of stalled.splice(0)) release();
  for (const close of closers.splice(0)) await close();
  await server?.close(100);
  server = undefined;
});

/** Watch streams statuses; the requested service name picks a behaviour. */
function health(events: string[]): Partial<ServiceImpl<typeof Health>> {
  return {
    async *watch(req, ctx) {
      if (req.service === "unwanted") events.push("an unwanted call reached the server");
      ctx.responseHeader.set("x-watched", req.service);
      ctx.responseHeader.set("x-caller", requestHeaderValue(ctx, "Authorization") ?? "none");
      if (req.service.startsWith("trailed")) ctx.responseTrailer.set("x-served-by", "fast");
      yield { status: Status.SERVING };
      if (req.service === "trailed-late") await new Promise((resolve) => setTimeout(resolve, 50));
      if (req.service === "fail") throw new ConnectError("broke after one", Code.Unavailable);
      if (req.service === "stall") {
        // Deaf to its signal: only the caller's own deadline ends the call.
        await new Promise<void>((resolve) => stalled.push(resolve));
      }
      if (req.service === "hang-followed") {
        // Follows the cancellation as the router's deadline does, without asking for the signal.
        const reason = await new Promise<unknown>((resolve) => followCancellation(ctx, resolve));
        events.push(`followed: ${(reason as ConnectError).code}`);
        return;
      }
      if (req.service === "hang") {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        events.push(`aborted: ${(ctx.signal.reason as ConnectError).code}`);
        return;
      }
      yield { status: Status.NOT_SERVING };
    },
  };
}

/** Starts the test's server with these routes; its URL. */
async function serve(routes: Parameters<typeof startServer>[0]["routes"]): Promise<string> {
  server = await startServer({ host: "127.0.0.1", port: 0, services: [], routes, maxMessageBytes: 1024 * 1024, logger: silentLogger });
  return server.url;
}

function start(events: string[] = []) {
  return serve((router) => router.service(Health, health(events)));
}

async function* oneStatusRequest(service: string) {
  yield create(healthV1.HealthCheckRequestSchema, { service });
}

function fastClient(url: string, multiplex: boolean) {
  const transport = createServiceTransport(url, { maxMessageBytes: 1024 * 1024, multiplex });
  closers.push(() => transport.close());
  return createClient(Health, transport);
}

async function collect(stream: AsyncIterable<{ status: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const message of stream) out.push(message.status);
  return out;
}

// Every case runs over the multiplexed connection our servers offer, and over HTTP/2 (what a peer that does not offer it gets).
describe.each([
  { over: "the multiplexed connection", multiplex: true },
  { over: "HTTP/2", multiplex: false },
])("fast streaming path, over $over", ({ multiplex }) => {
  it("streams every message with the response headers", async () => {
    const client = fastClient(await start(), multiplex);
    let header: Headers | undefined;
    expect(await collect(client.watch({ service: "a" }, { onHeader: (h) => (header = h) }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect(header?.get("x-watched")).toBe("a");
  });

  it("gives the handler the caller's request headers", async () => {
    const client = fastClient(await start(), multiplex);
    const callers: Array<string | null> = [];
    for (const headers of [{ authorization: "Bearer k1" }, undefined]) {
      await collect(client.watch({ service: "a" }, { headers, onHeader: (h) => callers.push(h.get("x-caller")) }));
    }
    expect(callers).toEqual(["Bearer k1", "none"]);
  });

  it("carries the server's trailers, and none when it sets none", async () => {
    const client = fastClient(await start(), multiplex);
    const trailers: Array<string | null> = [];
    for (const service of ["trailed", "plain"]) {
      const statuses = await collect(client.watch({ service }, { onTrailer: (t) => trailers.push(t.get("x-served-by")) }));
      expect(statuses).toEqual([Status.SERVING, Status.NOT_SERVING]);
    }
    expect(trailers).toEqual(["fast", null]);
  });

  it("passes a stream's headers and trailers through the mesh's client interceptor", async () => {
    // As every mesh client is made (createMeshClients): with forwardableErrors.
    const transport = createServiceTransport(await start(), { maxMessageBytes: 1024 * 1024, multiplex, interceptors: [forwardableErrors] });
    closers.push(() => transport.close());
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const client = serviceClient(Health, transport);
    const statuses = await collect(client.watch({ service: "trailed" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) }));
    expect(statuses).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect(header?.get("x-watched")).toBe("trailed");
    expect(trailer?.get("x-served-by")).toBe("fast");
  });

  it("fills in the trailer a caller took from the response before the stream ended", async () => {
    // With a deadline, which the transport keeps while the stream lasts.
    const transport = createServiceTransport(await start(), { maxMessageBytes: 1024 * 1024, multiplex, defaultTimeoutMs: 10_000 });
    closers.push(() => transport.close());
    const watch = Health.method.watch;
    const response = await transport.stream(watch, undefined, undefined, undefined, oneStatusRequest("trailed-late"), undefined);
    const { header, trailer } = response;
    expect(header.get("x-watched")).toBe("trailed-late");
    expect(trailer.get("x-served-by")).toBeNull();
    expect(await collect(response.message)).toHaveLength(2);
    expect(trailer.get("x-served-by")).toBe("fast");
  });

  it("keeps one connection usable across more streams than the server tolerates invalid frames", async () => {
    // Node's HTTP/2 server drops a connection after 1000 invalid frames; a
    // client that resets streams the server already ended hits that limit.
    const client = fastClient(await start(), multiplex);
    for (let i = 0; i < 1100; i++) expect(await collect(client.watch({ service: "n" }))).toHaveLength(2);
  });

  it("answers a method the server does not have with Unimplemented", async () => {
    const transport = createServiceTransport(await start(), { maxMessageBytes: 1024 * 1024, multiplex });
    closers.push(() => transport.close());
    const missing = serviceClient(AdapterService, transport).chatStream({});
    await expect(collect(missing as AsyncIterable<never>)).rejects.toMatchObject({ code: Code.Unimplemented });
    expect(await collect(fastClient(server!.url, multiplex).watch({ service: "after" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("ends a failed stream with the error, after the messages sent before it", async () => {
    const client = fastClient(await start(), multiplex);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const message of client.watch({ service: "fail" })) seen.push(message.status);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([Status.SERVING]);
    expect(err).toMatchObject({ code: Code.Unavailable, rawMessage: "broke after one" });
  });

  // "hang" waits on ctx.signal; "hang-followed" follows the cancellation as the router's deadline does.
  it.each([
    { service: "hang", heard: "aborted", how: "through its signal" },
    { service: "hang-followed", heard: "followed", how: "through followCancellation" },
  ])("cancels the server's work when the caller stops, $how", async ({ service, heard }) => {
    const events: string[] = [];
    const client = fastClient(await start(events), multiplex);
    const controller = new AbortController();
    const consume = (async () => {
      for await (const _message of client.watch({ service }, { signal: controller.signal })) controller.abort();
    })();
    await expect(consume).rejects.toMatchObject({ code: Code.Canceled });
    await expect.poll(() => events).toEqual([`${heard}: ${Code.Canceled}`]);
  });

  it("lets go of each message once it is sent, while the stream stays open", async () => {
    // A hand-made iterator, not a generator: a generator's own frame could keep what it yielded.
    let sent: WeakRef<object> | undefined;
    const held = new Promise<IteratorResult<never>>((resolve) => stalled.push(() => resolve({ done: true, value: undefined })));
    let calls = 0;
    const oneThenHold: AsyncIterableIterator<healthV1.HealthCheckResponse> = {
      [Symbol.asyncIterator]: () => oneThenHold,
      next: () => {
        if (calls++ > 0) return held;
        const message = create(healthV1.HealthCheckResponseSchema, { status: Status.SERVING });
        sent = new WeakRef(message);
        return Promise.resolve({ done: false, value: message });
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
    const url = await serve((router) => router.service(Health, { watch: () => oneThenHold }));
    const stream = fastClient(url, multiplex).watch({ service: "held" })[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ status: Status.SERVING });
    // Waiting for the next message, as a slow stream does between tokens.
    await expect.poll(() => calls).toBe(2);
    expect(await isCollectable(sent!)).toBe(true);
    for (const release of stalled.splice(0)) release();
    expect((await stream.next()).done).toBe(true);
  });

  it("ends a stream at its deadline on the caller's side, even when the server does not", async () => {
    const client = fastClient(await start(), multiplex);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const message of client.watch({ service: "stall" }, { timeoutMs: 150 })) seen.push(message.status);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([Status.SERVING]);
    expect(err).toMatchObject({ code: Code.DeadlineExceeded, rawMessage: "the deadline of 150 ms passed" });
    // The same connection still serves.
    expect(await collect(client.watch({ service: "after" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("does not send a call whose signal fired before it started, with or without a deadline", async () => {
    // As the gateway calls the router for a client that hung up right after its request.
    const events: string[] = [];
    const url = await start(events);
    for (const defaultTimeoutMs of [undefined, 60_000]) {
      const transport = createServiceTransport(url, { maxMessageBytes: 1024 * 1024, defaultTimeoutMs, multiplex });
      closers.push(() => transport.close());
      const client = serviceClient(Health, transport);
      await expect(collect(client.watch({ service: "unwanted" }, { signal: AbortSignal.abort() }))).rejects.toMatchObject({ code: Code.Canceled });
      // The same connection still serves, and a call sent after the cancelled one has been served.
      expect(await collect(client.watch({ service: "s" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
    }
    expect(events).toEqual([]);
  });

  it("reports a stream cut before its final message as an error, never as a complete stream", async () => {
    const cutter = http2.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/connect+proto" });
        const message = Buffer.from([0, 0, 0, 0, 2, 8, 1]);
        res.write(message, () => res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
      });
    });
    const sessions: http2.ServerHttp2Session[] = [];
    cutter.on("session", (session) => sessions.push(session));
    await new Promise<void>((resolve) => cutter.listen(0, "127.0.0.1", resolve));
    closers.push(() => {
      sessions.forEach((session) => session.destroy());
      return new Promise((resolve) => cutter.close(resolve));
    });
    const client = fastClient(`http://127.0.0.1:${(cutter.address() as { port: number }).port}`, multiplex);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const message of client.watch({})) seen.push(message.status);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([Status.SERVING]);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
  });

  it("speaks the Connect protocol: standard Connect clients and servers interoperate with it", async () => {
    const url = await start();
    for (const httpVersion of ["1.1", "2"] as const) {
      const generic = createClient(Health, createConnectTransport({ baseUrl: url, httpVersion, useBinaryFormat: true }));
      expect(await collect(generic.watch({ service: "g" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
      await expect(collect(generic.watch({ service: "fail" }))).rejects.toMatchObject({ code: Code.Unavailable });
    }

    const plain = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(Health, health([])) }));
    const sessions: http2.ServerHttp2Session[] = [];
    plain.on("session", (session) => sessions.push(session));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    closers.push(() => {
      sessions.forEach((session) => session.destroy());
      return new Promise((resolve) => plain.close(resolve));
    });
    const client = fastClient(`http://127.0.0.1:${(plain.address() as { port: number }).port}`, multiplex);
    expect(await collect(client.watch({ service: "s" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
    await expect(collect(client.watch({ service: "fail" }))).rejects.toMatchObject({ code: Code.Unavailable, rawMessage: "broke after one" });
  });
  it("holds a slow consumer's server back instead of buffering the stream, and still delivers all of it in order", async () => {
    const total = 600;
    let produced = 0;
    const url = await serve((router) =>
      router.service(AdapterService, {
        async *chatStream() {
          // 64 KiB a message: the whole stream (37.5 MiB) is far more than any window or socket buffer on the way.
          for (let i = 0; i < total; i++) {
            produced++;
            yield { chunk: { id: `${i} ${"x".repeat(64 * 1024)}` } };
          }
        },
      }),
    );
    const transport = createServiceTransport(url, { maxMessageBytes: 1024 * 1024, multiplex });
    closers.push(() => transport.close());
    const messages = serviceClient(AdapterService, transport).chatStream({})[Symbol.asyncIterator]();
    const first = await messages.next();
    expect(first.value?.chunk?.id.startsWith("0 ")).toBe(true);
    // Let the server produce all it can while nobody reads: until its count stops moving.
    let last = -1;
    while (produced !== last && produced < total) {
      last = produced;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(produced).toBeLessThan(total / 2);
    const ids: number[] = [];
    for (let next = await messages.next(); !next.done; next = await messages.next()) ids.push(Number(next.value.chunk?.id.split(" ")[0]));
    expect(ids).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 1));
  });

  it("carries a flowing stream's messages from the server's source to the caller's sink with no promise per message", async () => {
    const source = new PushedMessages<{ chunk: { id: string } }>({ pause: () => {}, resume: () => {}, stop: () => {} });
    const url = await serve((router) => router.service(AdapterService, { chatStream: () => source }));
    const transport = createServiceTransport(url, { maxMessageBytes: 1024 * 1024, multiplex });
    closers.push(() => transport.close());
    const ids: string[] = [];
    let arrived: (() => void) | undefined;
    let expected = 1;
    const sending = sendEach(serviceClient(AdapterService, transport).chatStream({})[Symbol.asyncIterator](), (message) => {
      ids.push(message.chunk?.id ?? "");
      if (ids.length === expected) arrived?.();
    });
    const arrival = () => new Promise<void>((resolve) => (arrived = resolve));
    // The first message sets the stream up (headers, the client's lazy start): not counted.
    let waiting = arrival();
    source.push({ chunk: { id: "0" } });
    await waiting;
    const count = 200;
    expected += count;
    waiting = arrival();
    const made = await promisesMadeWhile(async () => {
      for (let i = 1; i <= count; i++) source.push({ chunk: { id: String(i) } });
      await waiting;
    });
    expect(ids).toEqual(Array.from({ length: count + 1 }, (_, i) => String(i)));
    // A handful for the test's own waiting; the pulled path makes at least two per message.
    expect(made).toBeLessThan(count / 4);
    source.end();
    expect(await sending.finished).toBe("ended");
  });
});
