/**
 * The NATS side of live config, in one process against the machine's NATS
 * server (JetStream on 127.0.0.1:4222; LLMMESH_TEST_NATS_URL overrides):
 * several instances (each a NatsConfigSource with its own applier), an
 * operator (ConfigControl), one bucket and subject prefix per test run.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { ConfigSource } from "@llmmesh/proto";
import { silentLogger } from "../logger.js";
import { ConfigApplier } from "./config-applier.js";
import { ConfigControl, ConfigRefusedError } from "./config-control.js";
import { newRecord } from "./config-record.js";
import { ConfigConflictError, ConfigRepository } from "./config-repository.js";
import { ConfigError } from "./load.js";
import { NatsConfigSource } from "./nats-config-source.js";
import { InstanceState, instanceIdentity } from "./status.js";
import { natsNames } from "./subjects.js";

const URL = process.env.LLMMESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const names = natsNames(`test-source-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`);
const doc = (...models: string[]) =>
  `providers:\n  - { name: mock, adapter: custom }\nmodels:\n${models.map((m) => `  - { name: ${m}, targets: [{ provider: mock, model: m }] }\n`).join("")}`;

interface Instance {
  source: NatsConfigSource;
  applier: ConfigApplier;
  state: InstanceState;
}

const instances: Instance[] = [];
function startInstance(service: string, local: string | undefined, refuse?: string): Instance {
  const state = new InstanceState(instanceIdentity(service));
  const validate = (s: { models: ReadonlyMap<string, unknown> }) => (refuse && s.models.has(refuse) ? [`models: ${service} cannot serve "${refuse}"`] : []);
  const applier = new ConfigApplier({ validate, state, logger: silentLogger });
  const source = NatsConfigSource.start({
    url: URL,
    names,
    applier,
    state,
    logger: silentLogger,
    localDocument: async () => (local === undefined ? undefined : { text: local, path: `${service}.yaml` }),
  });
  const instance = { source, applier, state };
  instances.push(instance);
  return instance;
}

let nc: NatsConnection;
let control: ConfigControl;
const push = (document: string, extra: Partial<Parameters<ConfigControl["push"]>[1]> = {}) => control.push(document, { author: "test", waitMs: 5_000, ...extra });

beforeAll(async () => {
  nc = await connect({ servers: URL });
  control = new ConfigControl(() => nc, names, { quietMs: 150, maxWaitMs: 2_000 });
});

afterAll(async () => {
  await Promise.all(instances.map((i) => i.source.close()));
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`KV_${names.bucket}`).catch(() => false);
  await nc.close();
});

describe("NatsConfigSource and ConfigControl", () => {
  let a: Instance;
  let b: Instance;

  it("seeds an empty bucket once, from whichever instance is first; every instance applies it", async () => {
    a = startInstance("router", doc("seeded"));
    b = startInstance("gateway", doc("seeded", "other-local-copy"), "vetoed");
    await Promise.all([a.source.synced, b.source.synced]);
    const [storeA, storeB] = await Promise.all([a.applier.ready(), b.applier.ready()]);
    const history = await control.history();
    expect(history).toHaveLength(1);
    expect(history[0]?.record.author).toMatch(/^seed:(router|gateway)@/);
    expect(storeA.current().revision).toBe(storeB.current().revision);
    expect(storeA.current().source).toBe(`nats:${names.bucket}@1`);
  });

  it("pushes a revision: checked with every instance, stored, applied by all, reported by events", async () => {
    const result = await push(doc("seeded", "added"), { note: "add a model" });
    expect(result.status).toBe("stored");
    expect(result.revision).toBe(2);
    expect(result.checks.map((c) => c.service).sort()).toEqual(["gateway", "router"]);
    expect(result.rollout?.applied.map((e) => [e.service, e.revision, e.source]).sort()).toEqual([
      ["gateway", 2n, ConfigSource.NATS],
      ["router", 2n, ConfigSource.NATS],
    ]);
    expect([...(a.applier.store?.current().models.keys() ?? [])]).toEqual(["seeded", "added"]);
    expect(result.diff).toContain("+  - { name: added");
    expect(await push(doc("seeded", "added"))).toMatchObject({ status: "unchanged", revision: 2 });
  });

  it("a late starter gets the current revision from the watch's replay", async () => {
    const late = startInstance("policy", undefined);
    await late.source.synced;
    expect([...(await late.applier.ready()).current().models.keys()]).toEqual(["seeded", "added"]);
    expect((await control.status()).map((s) => [s.service, s.revision, s.ready])).toEqual([
      ["gateway", 2n, false],
      ["policy", 2n, false],
      ["router", 2n, false],
    ]);
  });

  it("refuses an invalid document, or one a live instance would refuse, storing nothing", async () => {
    await expect(push("models: [{ name: x, targets: [{ provider: nope, model: y }] }]")).rejects.toThrow(ConfigError);
    const refused = await push(doc("seeded", "vetoed")).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigRefusedError);
    expect((refused as ConfigRefusedError).problems).toEqual([`gateway ${b.state.identity.instanceId}: models: gateway cannot serve "vetoed"`]);
    await expect(push(`providers:\n  - { name: up, adapter: openai, base_url: "http://x/v1", api_key: "sk-literal-0001" }\n`)).rejects.toThrow(
      /providers\[0\]\.api_key: a literal secret/,
    );
    expect((await control.current())?.revision).toBe(2);
  });

  it("forced past the check, the refusing instance alone keeps its revision and says why", async () => {
    const result = await push(doc("seeded", "vetoed"), { skipFleetCheck: true });
    expect(result.rollout?.rejected.map((e) => [e.service, e.revision, e.runningRevision, e.problems])).toEqual([
      ["gateway", 3n, 2n, ['models: gateway cannot serve "vetoed"']],
    ]);
    expect(result.rollout?.applied.map((e) => e.service).sort()).toEqual(["policy", "router"]);
    expect(b.state.toStatus()).toMatchObject({ revision: 2n, lastError: 'revision 3 refused: models: gateway cannot serve "vetoed"' });
  });

  it("rolls back by storing an earlier document again, recording which", async () => {
    const result = await control.rollback(2, { author: "test", waitMs: 5_000 });
    expect(result.revision).toBe(4);
    expect(result.rollout?.applied).toHaveLength(3);
    const current = await control.current();
    expect([current?.record.rollbackOf, current?.record.note]).toEqual([2n, "rollback to revision 2"]);
    await expect(control.rollback(999, { author: "test" })).rejects.toThrow(/revision 999 is not in the bucket's history/);
  });

  it("stores compare-and-set: a write based on a stale revision conflicts; --if-empty leaves a filled bucket alone", async () => {
    const repository = await ConfigRepository.open(nc, names);
    await expect(repository.store(newRecord(doc("x"), { author: "test" }), 1)).rejects.toThrow(ConfigConflictError);
    await expect(repository.store(newRecord(doc("x"), { author: "test" }), undefined)).rejects.toThrow(ConfigConflictError);
    expect(await push(doc("other"), { ifEmpty: true })).toMatchObject({ status: "not-empty", revision: 4 });
  });

  it("ignores a deletion of the key: no revision is offered for it, the running one stays", async () => {
    const repository = await ConfigRepository.open(nc, names);
    const offered: number[] = [];
    a.applier.onOutcome((o) => offered.push(o.origin.revision));
    await repository.kv.delete(names.key);
    // The watch delivers in order: once the next push is applied, the deletion was seen before it.
    const result = await push(doc("after-delete"));
    expect(result.rollout?.applied).toHaveLength(3);
    expect(offered).toEqual([result.revision]);
    expect([...(a.applier.store?.current().models.keys() ?? [])]).toEqual(["after-delete"]);
  });
});
