import { afterEach, describe, expect, it } from "vitest";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { healthV1, PolicyService, AdmitResponseSchema, ErrorDetailSchema } from "@llmmesh/proto";
import { startServer, type RunningServer } from "./server.js";
import { createServiceTransport } from "./clients.js";
import { silentLogger } from "./logger.js";
import { forwardableErrors } from "./mesh/interceptors.js";
import { meshError, errorDetailOf, Reason } from "./errors.js";

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close(100);
  server = undefined;
});

async function start() {
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    services: [PolicyService],
    routes: (router) =>
      router.service(PolicyService, {
        admit: () => create(AdmitResponseSchema, { reservationId: "r1" }),
        settle: () => ({}),
        getUsage: () => ({}),
      }),
    fallback: (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`rest ${req.method} ${req.url}`);
    },
    maxMessageBytes: 1024 * 1024,
    logger: silentLogger,
  });
  return server;
}

describe("startServer", () => {
  it("serves REST over HTTP/1.1 and RPCs over HTTP/1.1 and HTTP/2 on one port", async () => {
    const { url } = await start();
    const rest = await fetch(`${url}/v1/models`);
    expect(await rest.text()).toBe("rest GET /v1/models");

    const connectJson = await fetch(`${url}/llmmesh.v1.PolicyService/Admit`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(await connectJson.json()).toEqual({ reservationId: "r1" });

    const overHttp2 = createClient(PolicyService, createServiceTransport(url, { maxMessageBytes: 1024 * 1024 }));
    expect((await overHttp2.admit({})).reservationId).toBe("r1");
  });

  it("answers health checks for its services and refuses unknown ones", async () => {
    const { url } = await start();
    const health = createClient(healthV1.Health, createServiceTransport(url, { maxMessageBytes: 1024 * 1024 }));
    expect((await health.check({ service: "llmmesh.v1.PolicyService" })).status).toBe(healthV1.HealthCheckResponse_ServingStatus.SERVING);
    await expect(health.check({ service: "nope.Service" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("serves REST to HTTP/2 clients with prior knowledge too", async () => {
    const { url } = await start();
    const session = http2.connect(url);
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ":path": "/v1/models", ":method": "GET" });
      let text = "";
      stream.on("data", (d: Buffer) => (text += d.toString()));
      stream.on("end", () => resolve(text));
      stream.on("error", reject);
    });
    session.close();
    expect(body).toBe("rest GET /v1/models");
  });
});

describe("startServer close", () => {
  it("closes connections that never said anything instead of waiting out the grace period for them", async () => {
    const { port } = await start();
    const silent = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    const closedByServer = new Promise((resolve) => silent.once("close", resolve));
    // A grace period longer than the test's timeout: only closing the silent socket lets this finish.
    await server!.close(120_000);
    server = undefined;
    await closedByServer;
    expect(silent.destroyed).toBe(true);
  });
});

describe("forwardableErrors", () => {
  it("keeps code, message and details of a downstream error but drops its response headers", async () => {
    const transport = createRouterTransport(
      (router) =>
        router.service(PolicyService, {
          admit: () => {
            throw meshError(Code.ResourceExhausted, "slow down", { reason: Reason.RateLimited, retryAfterMs: 1500n });
          },
          settle: () => ({}),
          getUsage: () => ({}),
        }),
      { transport: { interceptors: [forwardableErrors] } },
    );
    const err = await createClient(PolicyService, transport)
      .admit({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    const connectError = err as ConnectError;
    expect(connectError.code).toBe(Code.ResourceExhausted);
    expect(connectError.rawMessage).toBe("slow down");
    expect([...connectError.metadata.keys()]).toEqual([]);
    expect(errorDetailOf(connectError)).toMatchObject({ reason: "rate_limited", retryAfterMs: 1500n });
    expect(connectError.findDetails(ErrorDetailSchema)).toHaveLength(1);
  });
});
