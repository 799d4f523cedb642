import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errors } from "undici";
import { UpstreamPool } from "./upstream-pool.js";

/** An upstream that names the connection each answer went out on; `/hold` answers only when released. */
interface Upstream {
  readonly origin: string;
  readonly server: Server;
  /** Connections accepted so far, in order. */
  readonly sockets: Socket[];
  /** Sends the body of every held answer and ends it. */
  release(): void;
  /** Held answers waiting for release(). */
  readonly held: ServerResponse[];
}

async function startUpstream(): Promise<Upstream> {
  const sockets: Socket[] = [];
  const held: ServerResponse[] = [];
  const server = createServer({ keepAliveTimeout: 60_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const connection = String(sockets.indexOf(req.socket));
    res.setHeader("x-connection", connection);
    if (req.url === "/hold") {
      res.writeHead(200);
      res.flushHeaders();
      held.push(res);
      return;
    }
    if (req.url === "/close") res.setHeader("connection", "close");
    res.writeHead(200).end("done");
  });
  server.on("connection", (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    sockets,
    held,
    release: () => {
      for (const res of held.splice(0)) res.end("released");
    },
  };
}

/**
 * Sends one GET and reads its body; resolves with the connection the
 * upstream answered on, once undici has freed that connection (a turn of the
 * event loop after the body's end).
 */
async function get(pool: UpstreamPool, path = "/"): Promise<string> {
  const response = await pool.request({ method: "GET", path });
  await response.body.text();
  await freed();
  return String(response.headers["x-connection"]);
}

const freed = () => new Promise((resolve) => setImmediate(resolve));

let upstream: Upstream;
let pool: UpstreamPool;

beforeEach(async () => {
  upstream = await startUpstream();
  pool = new UpstreamPool(upstream.origin, { keepAliveTimeout: 30_000 });
});

afterEach(async () => {
  await pool.destroy();
  upstream.server.closeAllConnections();
  await new Promise((resolve) => upstream.server.close(resolve));
});

/** Resolves once `check` holds, polling: the pool learns of a closed connection on undici's own schedule. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe("UpstreamPool", () => {
  it("sends requests one after another on one kept-alive connection", async () => {
    expect([await get(pool), await get(pool), await get(pool)]).toEqual(["0", "0", "0"]);
    expect(upstream.sockets).toHaveLength(1);
  });

  it("opens a connection per request in flight, and gives the next request the one freed last", async () => {
    const streams = await Promise.all([1, 2, 3].map(() => pool.request({ method: "GET", path: "/hold" })));
    expect(upstream.sockets).toHaveLength(3);
    const on = (connection: string) => streams.find((s) => s.headers["x-connection"] === connection)!;
    // Freed in the order 0, then 2; 1 stays busy.
    for (const connection of ["0", "2"]) {
      upstream.held.find((res) => res.getHeader("x-connection") === connection)!.end("released");
      await on(connection).body.text();
      await freed();
    }
    expect(await get(pool)).toBe("2");
    expect(await get(pool)).toBe("2");
    expect(upstream.sockets).toHaveLength(3);
    expect(pool.connections).toBe(3);
    upstream.release();
    await on("1").body.text();
  });

  it("never queues a request behind a stream that is still open", async () => {
    const stream = await pool.request({ method: "GET", path: "/hold" });
    // With the stream's connection reused, this would wait for the stream to end (it never does here).
    expect(await get(pool)).toBe("1");
    upstream.release();
    await stream.body.text();
  });

  it("lets go of an idle connection the upstream closed, and opens a new one for the next request", async () => {
    expect(await get(pool)).toBe("0");
    upstream.server.closeIdleConnections();
    await until(() => pool.connections === 0);
    expect(await get(pool)).toBe("1");
    expect(pool.connections).toBe(1);
  });

  it("keeps no connection the upstream closed after its answer", async () => {
    await Promise.all([get(pool, "/close"), get(pool, "/close")]);
    await until(() => pool.connections === 0);
    expect(await get(pool)).toBe("2");
  });

  it("keeps no connection that could not connect", async () => {
    const refused = new UpstreamPool("http://127.0.0.1:1", {});
    try {
      await expect(refused.request({ method: "GET", path: "/" })).rejects.toMatchObject({ code: "ECONNREFUSED" });
      await until(() => refused.connections === 0);
    } finally {
      await refused.destroy();
    }
  });

  it("close lets a request in flight finish, then refuses new ones", async () => {
    const stream = await pool.request({ method: "GET", path: "/hold" });
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    upstream.release();
    expect(await stream.body.text()).toBe("released");
    await closing;
    await expect(pool.request({ method: "GET", path: "/" })).rejects.toBeInstanceOf(errors.ClientClosedError);
  });
});
