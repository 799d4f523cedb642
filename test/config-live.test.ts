/**
 * Live config over NATS, as operators use it: a mesh of separate processes
 * (five services plus a second gateway) follows one key-value bucket on the
 * machine's NATS server, under its own prefix. Revisions are pushed while a
 * load of streamed and plain chat completions runs; no request may fail or
 * be cut short. Propagation times are measured and printed, not asserted
 * tightly (the bound below is generous; the goal is "within 1 s").
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { ConfigControl, ConfigRefusedError, natsNames, type PushOptions } from "@llmmesh/common";
import { startMesh, startProcess, stopProcess, type Mesh, type ServiceProcess } from "./support/mesh.js";
import { startMockOpenAI, type MockOpenAI } from "./support/mock-openai-upstream.js";
import { poll, removeBucket, SHARED_NATS_URL, uniquePrefix } from "./support/nats.js";
import { startLoad } from "./support/load.js";

const run = promisify(execFile);
const OLD_KEY = "sk-live-old-0000000001";
const NEW_KEY = "sk-live-new-0000000002";
/** Instances in the fleet: five services and a second gateway. */
const FLEET = 6;
/** Generous: the goal is 1 s; this only stops a broken build from hanging. */
const PROPAGATION_BOUND_MS = 10_000;

function configYaml(upstream: MockOpenAI, options: { key?: string; extraModels?: string } = {}): string {
  return `
providers:
  - { name: mock, adapter: custom, protocol: mock, options: { delay_ms: 2 } }
  - { name: up, adapter: openai, base_url: "${upstream.url}", api_key: "\${${options.key ?? "LIVE_KEY_OLD"}}" }
models:
  - name: mock
    targets: [{ provider: mock, model: mock-1 }]
  - name: rotating
    routing: { retries: 0, timeout_ms: 10000 }
    targets: [{ provider: up, model: gpt-4o-mini }]
${options.extraModels ?? ""}`;
}

const FRESH_MODEL = `
  - name: fresh
    targets: [{ provider: mock, model: mock-fresh }]
`;

describe("live config over NATS, mesh of separate processes", () => {
  const prefix = uniquePrefix("live");
  let upstream: MockOpenAI;
  let mesh: Mesh;
  let gateway2: ServiceProcess;
  let nc: NatsConnection;
  let control: ConfigControl;
  let gateways: string[];
  let dir: string;
  const env = { NATS_URL: SHARED_NATS_URL, LLMMESH_NATS_PREFIX: prefix, LIVE_KEY_OLD: OLD_KEY, LIVE_KEY_NEW: NEW_KEY };
  const push = (document: string, options: Partial<PushOptions> = {}) => control.push(document, { author: "config-live.test", waitMs: PROPAGATION_BOUND_MS, ...options });

  beforeAll(async () => {
    upstream = await startMockOpenAI();
    dir = await mkdtemp(join(tmpdir(), "llmmesh-live-"));
    mesh = await startMesh(configYaml(upstream), env);
    gateway2 = await startProcess("gateway-2", "services/gateway/dist/main.js", {
      ...env,
      PORT: "0",
      HOST: "127.0.0.1",
      LLMMESH_ROUTER_URL: mesh.router.url,
    });
    gateways = [mesh.gateway.url, gateway2.url];
    nc = await connect({ servers: SHARED_NATS_URL });
    control = new ConfigControl(() => nc, natsNames(prefix));
    // Every instance up, ready, on the seeded revision 1.
    await poll(
      async () => {
        const fleet = await control.status();
        return fleet.length === FLEET && fleet.every((s) => s.ready && s.revision === 1n) ? fleet : undefined;
      },
      20_000,
      () => "the fleet did not come up on revision 1",
    );
  });

  afterAll(async () => {
    await Promise.all([mesh?.stop(), gateway2 && stopProcess(gateway2)]);
    await nc?.close();
    await removeBucket(SHARED_NATS_URL, prefix);
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("adds a model under load: every instance applies it, every gateway serves it, no request fails", async () => {
    let models = ["mock", "rotating"];
    const load = startLoad({ gateways: () => gateways, models: () => models, concurrency: 6 });
    await poll(() => (load.completed() >= 30 ? true : undefined), 20_000, () => "the load did not start");

    const result = await push(configYaml(upstream, { extraModels: FRESH_MODEL }), { note: "add fresh" });
    expect(result.status).toBe("stored");
    expect(result.diff).toContain("+  - name: fresh");
    expect(result.rollout?.rejected).toEqual([]);
    expect(result.rollout?.silent).toEqual([]);
    expect(result.rollout?.applied).toHaveLength(FLEET);
    const storedAt = result.rollout?.storedAt.getTime() ?? 0;

    // Asked as soon as the rollout is reported; polled (not asserted on time) in case a gateway lags.
    const answeredAfter = await Promise.all(
      gateways.map((gateway) => {
        let attempts = 0;
        return poll(
          async () => (attempts++, (await chat(gateway, "fresh")).status === 200 ? `${Date.now() - storedAt} ms (attempt ${attempts})` : undefined),
          PROPAGATION_BOUND_MS,
          () => `${gateway} never served the new model`,
        );
      }),
    );
    console.log(
      `[config-live] revision ${result.revision}: applied by all ${FLEET} instances ${result.rollout?.elapsedMs} ms after the store; ` +
        `the new model answered on the gateways ${answeredAfter.join(", ")} after the store, request latency under load included`,
    );

    models = ["mock", "rotating", "fresh"];
    const before = load.completed();
    await poll(() => (load.completed() >= before + 30 ? true : undefined), 20_000, () => "the load stalled");
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(report.streamed).toBeGreaterThan(10);
    console.log(`[config-live] add-model load: ${report.total} requests (${report.streamed} streamed), 0 failed`);
  });

  it("refuses an invalid revision in the CLI, naming the path, and stores nothing", async () => {
    const before = await control.current();
    const file = join(dir, "bad.yaml");
    await writeFile(file, configYaml(upstream, { extraModels: "  - name: broken\n    targets: [{ provider: nowhere, model: x }]\n" }));
    const failed = await run(process.execPath, ["packages/cli/dist/main.js", "config", "push", file, "--nats", SHARED_NATS_URL, "--prefix", prefix]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('models[2].targets[0].provider: unknown provider "nowhere"');
    expect((await control.current())?.revision).toBe(before?.revision);
  });

  it("a revision one service cannot apply: refused before storing; forced, that service alone refuses it and keeps the last good one", async () => {
    const good = await control.current();
    const unroutable = configYaml(upstream, {
      extraModels: `${FRESH_MODEL}  - name: far
    targets: [{ provider: far, model: far-1 }]
`,
    }).replace("providers:\n", 'adapters: { remote: "grpc://remote.internal:7103" }\nproviders:\n  - { name: far, adapter: remote }\n');

    // The fleet check: nothing stored, the refusing service and the path named.
    const refused = await push(unroutable).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigRefusedError);
    const problems = (refused as ConfigRefusedError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^router .*: router: adapters\.remote: adapter "remote" address "grpc:\/\/remote\.internal:7103" is not an http\(s\) URL/);
    expect((await control.current())?.revision).toBe(good?.revision);

    // Forced past the check: the router refuses it with an event and keeps serving the last good revision.
    const forced = await push(unroutable, { skipFleetCheck: true });
    expect(forced.status).toBe("stored");
    expect(forced.rollout?.rejected.map((r) => [r.service, r.revision, r.runningRevision])).toEqual([["router", BigInt(forced.revision ?? 0), BigInt(good?.revision ?? 0)]]);
    expect(forced.rollout?.rejected[0]?.problems[0]).toContain("adapters.remote");
    expect(forced.rollout?.applied).toHaveLength(FLEET - 1);
    const router = (await control.status()).find((s) => s.service === "router");
    expect(router?.revision).toBe(BigInt(good?.revision ?? 0));
    expect(router?.lastError).toContain("adapters.remote");
    for (const gateway of gateways) expect((await chat(gateway, "fresh")).status).toBe(200);

    // Fixed: the whole fleet converges again (the router had never left it).
    const fixed = await push(good?.record.document ?? "");
    expect(fixed.rollout?.applied).toHaveLength(FLEET);
    expect(fixed.rollout?.applied.find((a) => a.service === "router")?.unchanged).toBe(true);
  });

  it("rotates an upstream API key under load without a failed request", async () => {
    // A reference this adapter's environment lacks: the adapter refuses it before anything is stored.
    const missing = await push(configYaml(upstream, { key: "LIVE_KEY_MISSING", extraModels: FRESH_MODEL })).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(ConfigRefusedError);
    expect((missing as ConfigRefusedError).problems.join("\n")).toMatch(/^adapter-openai .*: adapter-openai: providers\[1\]: provider "up" api_key: environment variable LIVE_KEY_MISSING is not set/m);

    const load = startLoad({ gateways: () => gateways, models: () => ["rotating", "mock", "rotating"], concurrency: 6 });
    await poll(() => (load.completed() >= 30 ? true : undefined), 20_000, () => "the load did not start");
    const result = await push(configYaml(upstream, { key: "LIVE_KEY_NEW", extraModels: FRESH_MODEL }), { note: "rotate the upstream key" });
    expect(result.rollout?.applied).toHaveLength(FLEET);
    const before = load.completed();
    await poll(() => (load.completed() >= before + 30 ? true : undefined), 20_000, () => "the load stalled");
    const report = await load.stop();
    expect(report.failures).toEqual([]);

    const keys = upstream.requests.map((r) => r.headers.authorization);
    expect(new Set(keys)).toEqual(new Set([`Bearer ${OLD_KEY}`, `Bearer ${NEW_KEY}`]));
    // Once the adapter applied the revision, only the new key goes upstream.
    expect(new Set(keys.slice(-10))).toEqual(new Set([`Bearer ${NEW_KEY}`]));
    console.log(`[config-live] key rotation load: ${report.total} requests (${report.streamed} streamed), 0 failed; rollout ${result.rollout?.elapsedMs} ms`);
  });

  it("rolls back to an earlier revision everywhere", async () => {
    const first = await control.revision(1);
    const result = await control.rollback(1, { author: "config-live.test", waitMs: PROPAGATION_BOUND_MS });
    expect(result.status).toBe("stored");
    expect(result.rollout?.applied).toHaveLength(FLEET);

    const { stdout } = await run(process.execPath, ["packages/cli/dist/main.js", "status", "--json", "--nats", SHARED_NATS_URL, "--prefix", prefix]);
    const fleet = JSON.parse(stdout) as Array<{ service: string; revision: string; digest: string }>;
    expect(fleet).toHaveLength(FLEET);
    for (const instance of fleet) expect([instance.service, instance.revision, instance.digest]).toEqual([instance.service, String(result.revision), first?.record.digest]);
    for (const gateway of gateways) expect((await chat(gateway, "fresh")).status).toBe(404);
    const history = await control.history();
    expect(history.at(-1)?.record.rollbackOf).toBe(1n);
  });
});

async function chat(gateway: string, model: string): Promise<Response> {
  const res = await fetch(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  return res;
}
