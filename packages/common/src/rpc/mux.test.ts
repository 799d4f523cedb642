import { afterEach, describe, expect, it } from "vitest";
import * as net from "node:net";
import { Code, type ConnectError } from "@connectrpc/connect";
import { healthV1 } from "@llmmesh/proto";
import { startServer, type RunningServer } from "../server.js";
import { createServiceTransport, serviceClient } from "../clients.js";
import { silentLogger } from "../logger.js";
import { MUX_PREFACE } from "./mux-frames.js";

const { Health, HealthCheckResponse_ServingStatus: Status } = healthV1;
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server whose Watch sends one message, then waits for as long as the requested service name says (ms), or until cancelled. */
async function start(events: string[]): Promise<RunningServer> {
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    services: [],
    maxMessageBytes: 1024 * 1024,
    logger: silentLogger,
    routes: (router) =>
      router.service(Health, {
        check: (req) => ({ status: req.service === "down" ? Status.NOT_SERVING : Status.SERVING }),
        async *watch(req, ctx) {
          yield { status: Status.SERVING };
          const aborted = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), Number(req.service));
            ctx.signal.addEventListener("abort", () => (clearTimeout(timer), resolve(true)));
          });
          if (aborted) events.push(`aborted: ${(ctx.signal.reason as ConnectError).code}`);
          else yield { status: Status.NOT_SERVING };
        },
      }),
  });
  cleanups.push(() => server.close(100));
  return server;
}

/** A TCP relay in front of `port` that records the first bytes of every connection. */
async function recordingRelay(port: number): Promise<{ url: string; openings: Buffer[]; cut: () => void }> {
  const openings: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
    }
    client.once("data", (chunk: Buffer) => openings.push(chunk));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    cut();
    return new Promise((resolve) => relay.close(resolve));
  });
  const cut = () => sockets.forEach((socket) => socket.destroy());
  return { url: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`, openings, cut };
}

function client(url: string) {
  const transport = createServiceTransport(url, { maxMessageBytes: 1024 * 1024 });
  cleanups.push(() => transport.close());
  return serviceClient(Health, transport);
}

async function statuses(stream: AsyncIterable<{ status: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const message of stream) out.push(message.status);
  return out;
}

describe("multiplexed streams between mesh services", () => {
  it("carries many concurrent streams on one connection, which opens with the multiplexing preface", async () => {
    const server = await start([]);
    const relay = await recordingRelay(server.port);
    const watch = client(relay.url);
    const results = await Promise.all(Array.from({ length: 50 }, () => statuses(watch.watch({ service: "20" }))));
    expect(results).toEqual(Array.from({ length: 50 }, () => [Status.SERVING, Status.NOT_SERVING]));
    expect(relay.openings).toHaveLength(1);
    expect(relay.openings[0]!.subarray(0, MUX_PREFACE.length).equals(MUX_PREFACE)).toBe(true);
  });

  it("carries unary calls on the same connection as the streams, concurrently", async () => {
    const server = await start([]);
    const relay = await recordingRelay(server.port);
    const health = client(relay.url);
    const streams = Array.from({ length: 10 }, () => statuses(health.watch({ service: "50" })));
    const checks = await Promise.all(Array.from({ length: 50 }, (_, i) => health.check({ service: i % 2 === 0 ? "up" : "down" })));
    expect(checks.map((answer) => answer.status)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? Status.SERVING : Status.NOT_SERVING)));
    expect(await Promise.all(streams)).toEqual(Array.from({ length: 10 }, () => [Status.SERVING, Status.NOT_SERVING]));
    expect(relay.openings).toHaveLength(1);
    expect(relay.openings[0]!.subarray(0, MUX_PREFACE.length).equals(MUX_PREFACE)).toBe(true);
  });

  it("on a graceful close lets open streams finish, then a new stream gets a new connection", async () => {
    const events: string[] = [];
    const first = await start(events);
    const watch = client(first.url);
    const open = statuses(watch.watch({ service: "300" }));
    // The stream is open once its first message could have arrived.
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A grace longer than the test's timeout: the close must end with the stream, not wait the grace out.
    const closed = first.close(60_000);
    expect(await open).toEqual([Status.SERVING, Status.NOT_SERVING]);
    await closed;
    expect(events).toEqual([]);
    await expect(statuses(watch.watch({ service: "0" }))).rejects.toMatchObject({ code: Code.Unavailable });
  });

  it("fails the streams of a lost connection with Unavailable, and cancels their work on the server", async () => {
    const events: string[] = [];
    const server = await start(events);
    const relay = await recordingRelay(server.port);
    const watch = client(relay.url);
    const seen: number[] = [];
    const consume = (async () => {
      for await (const message of watch.watch({ service: "60000" })) {
        seen.push(message.status);
        // The server sees its caller go, the client its connection.
        relay.cut();
      }
    })();
    await expect(consume).rejects.toMatchObject({ code: Code.Unavailable });
    expect(seen).toEqual([Status.SERVING]);
    await expect.poll(() => events).toEqual([`aborted: ${Code.Canceled}`]);
  });

  it("refuses a call whose headers do not fit in a frame with ResourceExhausted, and its connection keeps serving", async () => {
    const server = await start([]);
    const relay = await recordingRelay(server.port);
    const watch = client(relay.url);
    expect(await statuses(watch.watch({ service: "0" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
    const oversized = watch.watch({ service: "0" }, { headers: { "x-big": "x".repeat(70 * 1024) } });
    await expect(statuses(oversized)).rejects.toMatchObject({ code: Code.ResourceExhausted });
    expect(await statuses(watch.watch({ service: "0" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect(relay.openings).toHaveLength(1);
  });

  it("closes a connection that sends a frame it cannot read, and keeps serving others", async () => {
    const server = await start([]);
    const socket = net.connect(server.port, "127.0.0.1");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("error", () => {});
    socket.resume();
    // A frame of an unknown type (99) after the preface.
    socket.write(Buffer.concat([MUX_PREFACE, Buffer.from([99, 0, 0, 0, 1, 0, 0, 0, 0])]));
    await closed;
    expect(await statuses(client(server.url).watch({ service: "0" }))).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });
});
