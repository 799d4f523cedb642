import { afterEach, describe, expect, it } from "vitest";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { requestBuffered, ResponseTooLargeError } from "./buffered-request.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real HTTP server on a free port, and a pool to it; both closed after the test. */
async function serve(handler: http.RequestListener): Promise<{ pool: Pool; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  closers.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => pool.destroy(),
  );
  closers.push(async () => server.closeAllConnections());
  return { pool, requests: () => requests };
}

const POST = { method: "POST", path: "/echo", body: "hello", headers: { "content-type": "text/plain" } } as const;

describe("requestBuffered", () => {
  it("returns the status, the headers and the whole body, however many chunks it came in", async () => {
    const { pool } = await serve((req, res) => {
      let sent = "";
      req.on("data", (chunk: Buffer) => (sent += chunk.toString()));
      req.on("end", () => {
        res.writeHead(201, { "x-seen": sent, "content-type": "text/plain" });
        // Chunked, in separate writes: the body arrives in several pieces.
        res.write("one,");
        setTimeout(() => {
          res.write("two,");
          res.end("three");
        }, 5);
      });
    });
    const response = await requestBuffered(pool, POST, undefined);
    expect(response.status).toBe(201);
    expect(response.headers["x-seen"]).toBe("hello");
    expect(response.body.toString()).toBe("one,two,three");
  });

  it("rejects with the signal's reason when the caller cancels mid-answer, and the pool still serves the next request", async () => {
    const { pool } = await serve((req, res) => {
      if (req.url === "/slow") {
        res.writeHead(200);
        res.write("partial");
        return; // never ends
      }
      res.end("fine");
    });
    const controller = new AbortController();
    const pending = requestBuffered(pool, { ...POST, path: "/slow" }, controller.signal);
    setTimeout(() => controller.abort(new Error("caller left")), 20);
    await expect(pending).rejects.toThrow("caller left");
    // One connection only: the cancelled request gave its socket up.
    const next = await requestBuffered(pool, { method: "GET", path: "/" }, undefined);
    expect(next.body.toString()).toBe("fine");
  });

  it("sends nothing for a signal that fired already", async () => {
    const { pool, requests } = await serve((_req, res) => res.end("never"));
    await expect(requestBuffered(pool, POST, AbortSignal.abort(new Error("too late")))).rejects.toThrow("too late");
    await requestBuffered(pool, { method: "GET", path: "/" }, undefined);
    expect(requests()).toBe(1);
  });

  it("refuses a body larger than the limit, declared or sent", async () => {
    const { pool } = await serve((req, res) => {
      const big = "x".repeat(2048);
      if (req.url === "/declared") {
        res.writeHead(200, { "content-length": big.length });
        res.end(big);
      } else {
        res.write(big.slice(0, 1000));
        res.end(big.slice(1000));
      }
    });
    await expect(requestBuffered(pool, { method: "GET", path: "/declared" }, undefined, 1024)).rejects.toBeInstanceOf(ResponseTooLargeError);
    await expect(requestBuffered(pool, { method: "GET", path: "/chunked" }, undefined, 1024)).rejects.toBeInstanceOf(ResponseTooLargeError);
    expect((await requestBuffered(pool, { method: "GET", path: "/chunked" }, undefined, 4096)).body.length).toBe(2048);
  });

  it("rejects with the network error when nothing listens", async () => {
    const nowhere = new Pool("http://127.0.0.1:1", { connections: 1 });
    closers.push(() => nowhere.destroy());
    await expect(requestBuffered(nowhere, POST, undefined)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
