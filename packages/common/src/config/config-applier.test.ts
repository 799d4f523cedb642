import { describe, expect, it } from "vitest";
import { ConfigSource } from "@llmmesh/proto";
import { silentLogger } from "../logger.js";
import { ConfigApplier, type ApplyOutcome } from "./config-applier.js";
import { InstanceState, instanceIdentity } from "./status.js";

const doc = (model: string) => `providers:\n  - { name: mock, adapter: custom }\nmodels:\n  - name: ${model}\n    targets: [{ provider: mock, model: m }]\n`;
const nats = (revision: number) => ({ source: ConfigSource.NATS, revision, label: `nats:test@${revision}` });

function setup(validate: (models: string[]) => string[] = () => []) {
  const state = new InstanceState(instanceIdentity("router"));
  const applier = new ConfigApplier({ validate: (s) => validate([...s.models.keys()]), state, logger: silentLogger });
  const outcomes: ApplyOutcome[] = [];
  applier.onOutcome((o) => outcomes.push(o));
  return { state, applier, outcomes };
}

describe("ConfigApplier", () => {
  it("creates the store on the first revision, then swaps whole snapshots; a request keeps the one it took", async () => {
    const { applier, state } = setup();
    applier.offer(doc("a"), nats(1));
    const store = await applier.ready();
    const inFlight = store.current();
    applier.offer(doc("b"), nats(2));
    expect([...inFlight.models.keys()]).toEqual(["a"]);
    expect([...store.current().models.keys()]).toEqual(["b"]);
    expect(store.current().source).toBe("nats:test@2");
    expect(state.toStatus()).toMatchObject({ revision: 2n, digest: store.current().revision, source: ConfigSource.NATS });
  });

  it("refuses a schema-invalid or component-refused revision, keeps the running one and reports why", async () => {
    const { applier, state, outcomes } = setup((models) => (models.includes("vetoed") ? ['models[0].name: "vetoed" is not allowed here'] : []));
    applier.offer(doc("a"), nats(1));
    const store = await applier.ready();
    const running = store.current();

    applier.offer("models: [{ name: x, targets: [{ provider: nope, model: y }] }]", nats(2));
    applier.offer(doc("vetoed"), nats(3));
    expect(store.current()).toBe(running);
    expect(outcomes.map((o) => [o.kind, o.origin.revision])).toEqual([
      ["applied", 1],
      ["rejected", 2],
      ["rejected", 3],
    ]);
    expect(outcomes[1]?.kind === "rejected" && outcomes[1].problems).toEqual(['models[0].targets[0].provider: unknown provider "nope"']);
    expect(outcomes[2]?.kind === "rejected" && outcomes[2].running?.revision).toBe(1);
    expect(state.toStatus()).toMatchObject({ revision: 1n, lastError: 'revision 3 refused: models[0].name: "vetoed" is not allowed here' });
  });

  it("ignores a bucket revision it has already seen (a watch replays after reconnecting)", () => {
    const { applier, outcomes } = setup();
    applier.offer(doc("a"), nats(4));
    expect(applier.offer(doc("a"), nats(4))).toBeUndefined();
    expect(applier.offer(doc("old"), nats(3))).toBeUndefined();
    expect(outcomes).toHaveLength(1);
  });

  it("records a new revision with the same document without swapping anything", async () => {
    const { applier, outcomes } = setup();
    applier.offer(doc("a"), nats(1));
    const store = await applier.ready();
    const snapshot = store.current();
    const outcome = applier.offer(doc("a"), nats(2));
    expect(outcome).toMatchObject({ kind: "applied", unchanged: true });
    expect(store.current()).toBe(snapshot);
    expect(outcomes).toHaveLength(2);
  });

  it("answers a check without applying anything", async () => {
    const { applier } = setup((models) => (models.includes("vetoed") ? ["no"] : []));
    applier.offer(doc("a"), nats(1));
    const store = await applier.ready();
    expect(applier.check(doc("vetoed"))).toEqual(["no"]);
    expect(applier.check("providers: 3")).toHaveLength(1);
    expect([...store.current().models.keys()]).toEqual(["a"]);
  });
});
