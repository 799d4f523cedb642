/**
 * NATS trouble, on a private nats-server this test starts, kills and
 * restarts (never the machine's shared one): a service that starts while
 * NATS is down serves its local file and says so; one without a local file
 * waits, not ready; both follow the bucket once NATS is up; a NATS crash
 * under load fails no request; after the restart a new push reaches
 * everyone.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { ConfigControl, natsNames } from "@llmmesh/common";
import { poll, privateNats, spawnService, uniquePrefix, type PrivateNats, type WatchedProcess } from "./support/nats.js";
import { startLoad } from "./support/load.js";

const CONFIG = `
providers:
  - { name: mock, adapter: custom, protocol: mock, options: { delay_ms: 2 } }
models:
  - name: mock
    targets: [{ provider: mock, model: mock-1 }]
`;
const WITH_LATE_MODEL = `${CONFIG}  - name: after-restart
    targets: [{ provider: mock, model: mock-2 }]
`;

describe("NATS outages", () => {
  const prefix = uniquePrefix("outage");
  let nats: PrivateNats;
  let dir: string;
  let core: WatchedProcess;
  let edge: WatchedProcess;
  let nc: NatsConnection | undefined;
  let coreUrl: string;
  let edgeUrl: string;
  const processes: WatchedProcess[] = [];

  beforeAll(async () => {
    nats = await privateNats();
    dir = await mkdtemp(join(tmpdir(), "llmmesh-outage-"));
    await writeFile(join(dir, "config.yaml"), CONFIG);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await nc?.close();
    await nats?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const common = {
    NATS_URL: "",
    LLMMESH_NATS_PREFIX: prefix,
    LLMMESH_NATS_CONNECT_WAIT_MS: "300",
    LLMMESH_NATS_RECONNECT_MAX_MS: "500",
    PORT: "0",
    HOST: "127.0.0.1",
  };

  it("starts from the local file while NATS is down; without one, waits not ready; both follow the bucket once NATS is up", async () => {
    const env = { ...common, NATS_URL: nats.url };
    // Everything but the gateway, with a local file.
    core = spawnService("packages/launcher/dist/main.js", {
      ...env,
      LLMMESH_SERVICES: "router,policy,adapter-openai,adapter-custom",
      LLMMESH_CONFIG: join(dir, "config.yaml"),
    });
    processes.push(core);
    await core.waitFor(/NATS is unreachable: serving the local config/);
    coreUrl = (await core.waitFor(/listening on (http:\/\/\S+)/))[1] as string;

    // The gateway, without one: it must not listen before it has a config.
    edge = spawnService("services/gateway/dist/main.js", { ...env, LLMMESH_CONFIG: join(dir, "missing.yaml"), LLMMESH_ROUTER_URL: coreUrl });
    processes.push(edge);
    await edge.waitFor(/NATS is unreachable and there is no local config: not ready/);
    expect(edge.output()).not.toContain("listening on");

    await nats.start();
    // The core seeds the empty bucket from its file; the gateway gets that revision and starts listening.
    await core.waitFor(/seeded the empty config bucket/);
    edgeUrl = (await edge.waitFor(/listening on (http:\/\/\S+)/))[1] as string;
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const control = new ConfigControl(() => nc, natsNames(prefix));
    const fleet = await poll(
      async () => {
        const instances = await control.status();
        return instances.length === 2 && instances.every((s) => s.ready && s.revision === 1n) ? instances : undefined;
      },
      10_000,
      () => "both processes should run bucket revision 1",
    );
    expect(fleet.map((s) => s.service).sort()).toEqual(["gateway", "router+policy+adapter-openai+adapter-custom"]);
    expect((await fetch(`${edgeUrl}/healthz`)).status).toBe(200);
  });

  it("keeps serving through a NATS crash and restart; a push after the restart reaches everyone", async () => {
    const control = new ConfigControl(() => nc, natsNames(prefix));
    let models = ["mock"];
    const load = startLoad({ gateways: () => [edgeUrl], models: () => models, concurrency: 4 });
    await poll(() => (load.completed() >= 20 ? true : undefined), 20_000, () => "the load did not start");

    await nats.kill();
    await core.waitFor(/lost the NATS connection: serving the last good config revision/);
    await edge.waitFor(/lost the NATS connection: serving the last good config revision/);
    const duringOutage = load.completed();
    await poll(() => (load.completed() >= duringOutage + 20 ? true : undefined), 20_000, () => "requests stopped while NATS was down");

    const restartedAt = Date.now();
    await nats.start();
    await core.waitFor(/reconnected to NATS/);
    await edge.waitFor(/reconnected to NATS/);
    // The first push after a restart may meet JetStream still recovering its streams: retried, not timed.
    const result = await poll(
      () => control.push(WITH_LATE_MODEL, { author: "config-nats-outage.test", waitMs: 10_000 }).catch(() => undefined),
      20_000,
      () => "could not push after the NATS restart",
    );
    expect(result.rollout?.applied.map((a) => a.service).sort()).toEqual(["gateway", "router+policy+adapter-openai+adapter-custom"]);
    console.log(
      `[config-nats-outage] push after restart: applied by both processes ${result.rollout?.elapsedMs} ms after the store, ` +
        `${Date.now() - restartedAt} ms after nats-server restarted`,
    );
    models = ["mock", "after-restart"];
    const afterPush = load.completed();
    await poll(() => (load.completed() >= afterPush + 20 ? true : undefined), 20_000, () => "the load stalled after the push");
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    console.log(`[config-nats-outage] load through the outage: ${report.total} requests (${report.streamed} streamed), 0 failed`);
  });
});
