/**
 * `llmmesh` as an operator runs it, against the machine's NATS server (a
 * bucket and prefix of this run's own), with one in-process instance
 * following the bucket so there is a fleet to check, report and list.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { ConfigApplier, InstanceState, NatsConfigSource, instanceIdentity, natsNames, silentLogger } from "@llmmesh/common";
import { ExitCode, runCli } from "./cli.js";

const NATS_URL = process.env.LLMMESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `test-cli-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
const V1 = "providers:\n  - { name: mock, adapter: custom }\nmodels:\n  - { name: mock, targets: [{ provider: mock, model: m }] }\n";
const V2 = `${V1}  - { name: second, targets: [{ provider: mock, model: m }] }\n`;
const FILES: Record<string, string> = {
  "v1.yaml": V1,
  "v2.yaml": V2,
  "bad.yaml": "models:\n  - { name: x, targets: [{ provider: nope, model: y }] }\n",
  "literal.yaml": 'providers:\n  - { name: up, adapter: openai, base_url: "http://x/v1", api_key: "sk-literal-0001" }\n',
};

async function llmmesh(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env: { NATS_URL, LLMMESH_NATS_PREFIX: prefix, LLMMESH_AUTHOR: "ops@test" },
    read: async (path) => {
      const text = FILES[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
  });
  return { code, out, err };
}

let instance: NatsConfigSource | undefined;
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});

afterAll(async () => {
  await instance?.close();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`KV_${natsNames(prefix).bucket}`).catch(() => false);
  await nc.close();
});

describe("llmmesh", () => {
  it("explains itself, and refuses unknown commands", async () => {
    expect((await llmmesh("--help")).out).toContain("config push FILE");
    expect(await llmmesh("config", "frobnicate")).toMatchObject({ code: ExitCode.Error, err: expect.stringContaining('unknown command "config frobnicate"') });
    expect((await llmmesh("config", "rollback", "latest")).err).toContain('expected a revision number, got "latest"');
  });

  it("validates a file locally, naming the path of each problem", async () => {
    expect(await llmmesh("config", "validate", "v1.yaml")).toMatchObject({ code: ExitCode.Ok, out: "v1.yaml: valid\n" });
    expect(await llmmesh("config", "validate", "bad.yaml")).toMatchObject({
      code: ExitCode.Invalid,
      err: 'bad.yaml: invalid config\n  - models[0].targets[0].provider: unknown provider "nope"\n',
    });
    expect((await llmmesh("config", "validate", "literal.yaml")).err).toContain("providers[0].api_key: a literal secret");
    expect((await llmmesh("config", "validate", "literal.yaml", "--allow-literal-secrets")).code).toBe(ExitCode.Ok);
  });

  it("says so when NATS is not there", async () => {
    const res = await llmmesh("config", "history", "--nats", "nats://127.0.0.1:1");
    expect(res.code).toBe(ExitCode.Error);
    expect(res.err).toContain("cannot reach NATS at nats://127.0.0.1:1");
  });

  it("pushes into an empty bucket, then finds the same document unchanged", async () => {
    const first = await llmmesh("config", "push", "v1.yaml", "-m", "first", "--wait", "0");
    expect(first.code).toBe(ExitCode.Ok);
    expect(first.out).toContain("--- (empty bucket)");
    expect(first.out).toContain("Stored revision 1");
    expect((await llmmesh("config", "push", "v1.yaml")).out).toContain("already the current revision 1");
    expect((await llmmesh("config", "push", "v2.yaml", "--if-empty")).out).toContain("already holds revision 1: nothing stored");
    expect((await llmmesh("config", "push", "bad.yaml")).code).toBe(ExitCode.Invalid);
  });

  it("pushes to a live fleet: checks, stores, reports who applied it; status lists the fleet", async () => {
    const state = new InstanceState(instanceIdentity("router"));
    const applier = new ConfigApplier({ validate: () => [], state, logger: silentLogger });
    instance = NatsConfigSource.start({ url: NATS_URL, names: natsNames(prefix), applier, state, logger: silentLogger, localDocument: async () => undefined });
    await applier.ready();

    const pushed = await llmmesh("config", "push", "v2.yaml", "--note", "second model");
    expect(pushed.code).toBe(ExitCode.Ok);
    expect(pushed.out).toContain("+  - { name: second");
    expect(pushed.out).toContain("Checked with 1 live instance: all can apply it.");
    expect(pushed.out).toMatch(/Stored revision 2 \([0-9a-f]{12}\)\.\nApplied by 1\/1 instance in \d+ ms\./);

    const status = await llmmesh("status");
    expect(status.out).toMatch(/^SERVICE\s+INSTANCE\s+VERSION\s+REVISION\s+SINCE\s+READY\s+LAST ERROR\nrouter\s+\S+\s+\S+\s+2 \([0-9a-f]{12}\)/);
    const json = JSON.parse((await llmmesh("status", "--json")).out) as Array<{ service: string; revision: string }>;
    expect(json.map((s) => [s.service, s.revision])).toEqual([["router", "2"]]);
  });

  it("shows documents, lists history, and rolls back", async () => {
    expect((await llmmesh("config", "show")).out).toBe(V2);
    const old = await llmmesh("config", "show", "--revision", "1");
    expect(old.out).toBe(V1);
    expect(old.err).toMatch(/^# revision 1 \([0-9a-f]{12}\), stored .* by ops@test: first\n$/);
    expect((await llmmesh("config", "show", "--revision", "42")).code).toBe(ExitCode.Error);

    const rollback = await llmmesh("config", "rollback", "1");
    expect(rollback.code).toBe(ExitCode.Ok);
    expect(rollback.out).toContain("Stored revision 3");
    const history = await llmmesh("config", "history");
    expect(history.out.split("\n").slice(1, 4).map((line) => line.replace(/\s+/g, " ").replace(/ \d{4}-.*ago\) /, " <time> "))).toEqual([
      expect.stringMatching(/^ 1 [0-9a-f]{12} <time> ops@test first$/),
      expect.stringMatching(/^ 2 [0-9a-f]{12} <time> ops@test second model$/),
      expect.stringMatching(/^\* 3 [0-9a-f]{12} <time> ops@test rollback to revision 1$/),
    ]);
  });
});
