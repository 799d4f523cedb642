/**
 * The admin REST API on a real HTTP server, over a real NATS config bucket
 * (the machine's server; a bucket and prefix of this run's own), with one
 * in-process instance following it so pushes have a fleet to report.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { connect, type NatsConnection } from "nats";
import {
  ConfigApplier,
  ConfigControl,
  ConfigStore,
  InstanceState,
  NatsConfigSource,
  instanceIdentity,
  natsNames,
  parseConfig,
  silentLogger,
} from "@llmmesh/common";
import { RouterService } from "@llmmesh/proto";
import { createGatewayHandler } from "../gateway-handler.js";
import type { AdminDeps } from "./admin-routes.js";

const NATS_URL = process.env.LLMMESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const KEY = "admin-key-for-tests-0123456789";
const names = natsNames(`test-admin-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`);
const DOC = "providers:\n  - { name: mock, adapter: custom }\nmodels:\n  - { name: mock, targets: [{ provider: mock, model: m }] }\n";
const DOC2 = `${DOC}  - { name: second, targets: [{ provider: mock, model: m }] }\n`;

const servers: http.Server[] = [];
async function startGateway(admin: AdminDeps | undefined): Promise<string> {
  const unimplemented = () => {
    throw new ConnectError("not in this test", Code.Unimplemented);
  };
  const router = createClient(
    RouterService,
    createRouterTransport((r) => r.service(RouterService, { chat: unimplemented, chatStream: unimplemented, embed: unimplemented, listModels: unimplemented })),
  );
  const handler = createGatewayHandler({ router, config: new ConfigStore(parseConfig(DOC)), logger: silentLogger, admin });
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(origin: string, method: string, path: string, body?: unknown, key: string | null = KEY) {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string; problems?: string[] } } };
}

let nc: NatsConnection;
let instance: NatsConfigSource;
let origin: string;

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
  const state = new InstanceState(instanceIdentity("router"));
  const applier = new ConfigApplier({ validate: () => [], state, logger: silentLogger });
  instance = NatsConfigSource.start({ url: NATS_URL, names, applier, state, logger: silentLogger, localDocument: async () => ({ text: DOC, path: "seed.yaml" }) });
  await instance.synced;
  origin = await startGateway({ key: KEY, control: new ConfigControl(() => nc, names, { quietMs: 150, maxWaitMs: 2_000 }) });
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await instance?.close();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`KV_${names.bucket}`).catch(() => false);
  await nc.close();
});

describe("admin API access", () => {
  it("is disabled, and says how to enable it, without LLMMESH_ADMIN_KEY", async () => {
    const disabled = await startGateway(undefined);
    const res = await call(disabled, "GET", "/admin/config");
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "admin_api_disabled", message: expect.stringContaining("LLMMESH_ADMIN_KEY") });
  });

  it("wants the admin key", async () => {
    expect((await call(origin, "GET", "/admin/status", undefined, null)).status).toBe(401);
    expect((await call(origin, "GET", "/admin/status", undefined, "wrong-key")).body.error?.code).toBe("invalid_admin_key");
  });

  it("answers 503 on a gateway that reads a local file", async () => {
    const local = await startGateway({ key: KEY });
    const res = await call(local, "GET", "/admin/config/history");
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe("config_store_unavailable");
  });
});

describe("admin API config operations", () => {
  it("shows the current revision and validates a document", async () => {
    const current = await call(origin, "GET", "/admin/config");
    expect(current).toMatchObject({ status: 200, body: { revision: 1, document: DOC, rollback_of: null } });
    expect((await call(origin, "POST", "/admin/config/validate", { document: DOC2 })).body).toEqual({ valid: true, problems: [] });
    const invalid = await call(origin, "POST", "/admin/config/validate", { document: "models: [{ name: x, targets: [] }]" });
    expect(invalid.body).toEqual({ valid: false, problems: ["models[0].targets: Too small: expected array to have >=1 items"] });
  });

  it("refuses an invalid push with the path of each problem; stores a valid one and reports the rollout", async () => {
    const bad = await call(origin, "POST", "/admin/config", { document: "models: [{ name: x, targets: [{ provider: nope, model: y }] }]" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_config", problems: ['models[0].targets[0].provider: unknown provider "nope"'] });

    const pushed = await call(origin, "POST", "/admin/config", { document: DOC2, note: "second model", author: "alice" });
    expect(pushed.status).toBe(200);
    expect(pushed.body).toMatchObject({ status: "stored", revision: 2, previous_revision: 1, rollout: { revision: 2, rejected: [], silent: [] } });
    expect((pushed.body.rollout as { applied: unknown[] }).applied).toHaveLength(1);
    expect(pushed.body.diff).toContain("+  - { name: second");

    const history = await call(origin, "GET", "/admin/config/history");
    expect((history.body.revisions as Array<{ revision: number; author: string; note: string }>).map((r) => [r.revision, r.author, r.note])).toEqual([
      [1, "seed:router@" + instanceIdentity("x").hostname, "seeded from seed.yaml"],
      [2, "alice (admin API)", "second model"],
    ]);
  });

  it("rolls back, shows any kept revision, and lists the fleet", async () => {
    const rolled = await call(origin, "POST", "/admin/config/rollback", { revision: 1 });
    expect(rolled.body).toMatchObject({ status: "stored", revision: 3 });
    expect((await call(origin, "GET", "/admin/config/revisions/2")).body).toMatchObject({ revision: 2, document: DOC2 });
    expect((await call(origin, "GET", "/admin/config/revisions/99")).status).toBe(404);
    expect((await call(origin, "GET", "/admin/config/revisions/two")).status).toBe(400);
    expect((await call(origin, "POST", "/admin/config/rollback", { revision: "1" })).body.error?.message).toContain("revision must be a revision number");
    const missing = await call(origin, "POST", "/admin/config/rollback", { revision: 999 });
    expect(missing.status).toBe(404);
    expect(missing.body.error?.code).toBe("revision_not_found");
    // A misspelt option must not store a config for real.
    const typo = await call(origin, "POST", "/admin/config/rollback", { revision: 1, dryRun: true });
    expect(typo.status).toBe(400);
    expect(typo.body.error?.message).toContain("Unknown field 'dryRun'");
    expect((await call(origin, "GET", "/admin/config/history")).body.revisions).toHaveLength(3);

    const status = await call(origin, "GET", "/admin/status");
    expect(status.body.instances).toEqual([expect.objectContaining({ service: "router", revision: "3", source: "CONFIG_SOURCE_NATS" })]);
  });
});
