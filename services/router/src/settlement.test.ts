import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { silentLogger } from "@llmmesh/common";
import { PolicyService, PrincipalSchema, type SettleRequest } from "@llmmesh/proto";
import { createBatchingSettler, type Settlement } from "./settlement.js";

function fakePolicy(fail = false) {
  const batches: SettleRequest[][] = [];
  const client = createClient(
    PolicyService,
    createRouterTransport((router) =>
      router.service(PolicyService, {
        settleBatch(req) {
          batches.push(req.settlements);
          if (fail) throw new ConnectError("ledger down", Code.Unavailable);
          return {};
        },
      }),
    ),
  );
  return { client, batches };
}

const settlement = (id: string, succeeded = true): Settlement => ({
  admission: { reservationId: id, leaseId: "", reservedTokens: 0, principal: create(PrincipalSchema, { keyId: "k", tenant: "t" }) },
  model: "m",
  target: undefined,
  usage: undefined,
  succeeded,
});

describe("createBatchingSettler", () => {
  it("sends the settlements of a burst in one batch, after a short delay", async () => {
    const policy = fakePolicy();
    const settler = createBatchingSettler(policy.client, silentLogger, { delayMs: 5 });
    settler.settle(settlement("r1"));
    settler.settle(settlement("r2", false));
    settler.settle(settlement("r3"));
    expect(policy.batches).toEqual([]);
    await expect.poll(() => policy.batches.length).toBe(1);
    expect(policy.batches[0]!.map((s) => [s.reservationId, s.succeeded])).toEqual([
      ["r1", true],
      ["r2", false],
      ["r3", true],
    ]);
  });

  it("sends a full batch at once, and flush sends what is pending", async () => {
    const policy = fakePolicy();
    const settler = createBatchingSettler(policy.client, silentLogger, { maxBatch: 2, delayMs: 60_000 });
    for (const id of ["a", "b", "c"]) settler.settle(settlement(id));
    await expect.poll(() => policy.batches.length).toBe(1);
    expect(policy.batches[0]!.map((s) => s.reservationId)).toEqual(["a", "b"]);
    await settler.flush();
    expect(policy.batches.map((b) => b.map((s) => s.reservationId))).toEqual([["a", "b"], ["c"]]);
  });

  it("skips requests that reserved nothing and never throws when policy is down", async () => {
    const policy = fakePolicy(true);
    const settler = createBatchingSettler(policy.client, silentLogger);
    settler.settle(settlement(""));
    await settler.flush();
    expect(policy.batches).toEqual([]);
    settler.settle(settlement("r1"));
    await expect(settler.flush()).resolves.toBeUndefined();
    expect(policy.batches).toHaveLength(1);
  });
});
