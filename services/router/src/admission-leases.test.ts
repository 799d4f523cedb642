import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues, createRouterTransport, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ConfigStore, meshError, parseConfig, Reason, silentLogger } from "@llmmesh/common";
import { LeaseResponseSchema, Operation, PolicyService, PrincipalSchema, type AdmitRequest, type LeaseResponse } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { AdmissionLeases, type LeaseReturnInit } from "./admission-leases.js";

const CONFIG = `
providers:
  - { name: p, adapter: custom }
models:
  - { name: m, targets: [{ provider: p, model: up }] }
  - { name: other, targets: [{ provider: p, model: up }] }
`;

/** The two fields of a handler context that admission reads. */
function contextWithKey(apiKey: string): HandlerContext {
  const requestHeader = new Headers(apiKey === "" ? {} : { authorization: `Bearer ${apiKey}` });
  return { requestHeader, signal: new AbortController().signal, values: createContextValues() } as unknown as HandlerContext;
}

interface FakePolicyOptions {
  /** What Lease answers (default: a lease without limits on the store's revision). */
  lease?: (apiKey: string, count: number) => Partial<LeaseResponse> | Error;
  allowedModels?: string[];
}

function fakePolicy(config: ConfigStore, options: FakePolicyOptions = {}) {
  const admits: AdmitRequest[] = [];
  const leases: string[] = [];
  const impl: Partial<ServiceImpl<typeof PolicyService>> = {
    admit(req) {
      admits.push(req);
      if (req.apiKey === "bad") throw meshError(Code.Unauthenticated, "Incorrect API key provided: ****.", { reason: Reason.InvalidApiKey });
      if (req.model === "other" && options.allowedModels && !options.allowedModels.includes("other")) {
        throw meshError(Code.PermissionDenied, "The API key 'k' is not allowed to use the model 'other'.", { reason: Reason.ModelNotAllowed });
      }
      return { principal: principal(options.allowedModels), reservationId: `res-${admits.length}` };
    },
    lease(req) {
      leases.push(req.apiKey);
      const answer = options.lease?.(req.apiKey, leases.length) ?? {};
      if (answer instanceof Error) throw answer;
      return create(LeaseResponseSchema, {
        principal: principal(options.allowedModels),
        leaseId: `lease-${leases.length}`,
        revision: config.current().revision,
        ttlMs: 1_000n,
        ...answer,
      });
    },
  };
  return { client: createClient(PolicyService, createRouterTransport((r) => r.service(PolicyService, impl))), admits, leases };
}

/** What policy leases under open access: the default tenant's principal, no limits. */
const openAccessLease = () => ({ principal: create(PrincipalSchema, { keyId: "", tenant: "default" }) });

const principal = (allowedModels: string[] = []) => create(PrincipalSchema, { keyId: "k", tenant: "t", allowedModels });

function harness(options: FakePolicyOptions & { maxKeys?: number; sweepIntervalMs?: number } = {}) {
  const config = new ConfigStore(parseConfig(CONFIG));
  const policy = fakePolicy(config, options);
  const returned: LeaseReturnInit[] = [];
  const clock = { now: 1_000_000 };
  const leases = new AdmissionLeases({
    policy: policy.client,
    config,
    logger: silentLogger,
    returnLease: (r) => returned.push(r),
    now: () => clock.now,
    maxKeys: options.maxKeys,
    sweepIntervalMs: options.sweepIntervalMs,
  });
  const admit = (apiKey = "k1", model = "m", estimatedTokens = 10) =>
    leases.admit(contextWithKey(apiKey), config.current(), { operation: Operation.CHAT, model, estimatedTokens });
  /** Lets the background Lease call land. */
  const settled = () => new Promise((resolve) => setTimeout(resolve, 5));
  return { leases, policy, returned, clock, config, admit, settled };
}

describe("AdmissionLeases", () => {
  it("admits a key's first request at policy, and the next ones on the lease it then takes", async () => {
    const { policy, admit, settled, leases } = harness();
    const first = await admit();
    expect(first).toMatchObject({ reservationId: "res-1", leaseId: "" });
    await settled();
    const later = [await admit(), await admit(), await admit()];
    expect(policy.admits).toHaveLength(1);
    expect(policy.leases).toEqual(["k1"]);
    for (const admission of later) expect(admission).toMatchObject({ reservationId: "", leaseId: "lease-1", reservedTokens: 0, principal: { keyId: "k", tenant: "t" } });
    leases.close();
  });

  it("keeps each key's lease apart, and never leases for a key policy refused", async () => {
    const { policy, admit, settled, leases } = harness();
    await admit("k1");
    await expect(admit("bad")).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: "Incorrect API key provided: ****." });
    await settled();
    await expect(admit("bad")).rejects.toMatchObject({ code: Code.Unauthenticated });
    await admit("k2");
    await settled();
    expect(policy.leases).toEqual(["k1", "k2"]);
    expect(policy.admits.map((a) => a.apiKey)).toEqual(["k1", "bad", "bad", "k2"]);
    leases.close();
  });

  it("sends to policy what a lease cannot decide, so policy words the refusal: a model the key may not use, listing models", async () => {
    const { policy, admit, settled, leases, config } = harness({ allowedModels: ["m"] });
    await admit();
    await settled();
    await expect(admit("k1", "other")).rejects.toMatchObject({ code: Code.PermissionDenied });
    await leases.admit(contextWithKey("k1"), config.current(), { operation: Operation.LIST_MODELS, model: "", estimatedTokens: 0 });
    await admit("k1", "m");
    expect(policy.admits.map((a) => [a.model, a.operation])).toEqual([
      ["m", Operation.CHAT],
      ["other", Operation.CHAT],
      ["", Operation.LIST_MODELS],
    ]);
    leases.close();
  });

  it("takes each request's share from a limited lease, renews it half-used, and uses it to its end before the next", async () => {
    const { policy, admit, settled, returned, leases } = harness({ lease: (_key, count) => ({ requests: 4n, tokens: 1_000n, leaseId: `lease-${count}` }) });
    await admit();
    await settled();
    const onLease = await admit("k1", "m", 100);
    expect(onLease).toMatchObject({ leaseId: "lease-1", reservedTokens: 100 });
    await admit();
    await admit();
    // 1 of 4 left after three: a renewal started when it went below half, and waits behind it.
    await settled();
    expect(policy.leases).toHaveLength(2);
    expect((await admit()).leaseId).toBe("lease-1");
    expect(returned).toEqual([]);
    // Its requests used up, the first lease gives back the tokens it did not use, and the second takes over.
    expect((await admit()).leaseId).toBe("lease-2");
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 0n, unusedTokens: 870n }]);
    expect(policy.admits).toHaveLength(1);
    leases.close();
  });

  it("goes to policy once a lease is used up", async () => {
    const { policy, admit, settled, leases } = harness({ lease: (_key, count) => (count === 1 ? { requests: 2n } : { requests: 0n }) });
    await admit();
    await settled();
    expect((await admit()).leaseId).toBe("lease-1");
    expect((await admit()).leaseId).toBe("lease-1");
    await settled();
    // The renewal came back empty: the third request goes to Admit.
    const third = await admit();
    expect(third).toMatchObject({ leaseId: "", reservationId: "res-2" });
    expect(policy.admits).toHaveLength(2);
    leases.close();
  });

  it("stops using a lease at its expiry, returns it, and takes a new one", async () => {
    const { policy, admit, settled, returned, clock, leases } = harness({ lease: (_key, count) => ({ requests: 10n, leaseId: `lease-${count}`, ttlMs: 60_000n }) });
    await admit();
    await settled();
    await admit();
    clock.now += 60_000;
    expect((await admit()).reservationId).toBe("res-2");
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 9n, unusedTokens: 0n }]);
    await settled();
    expect((await admit()).leaseId).toBe("lease-2");
    expect(policy.leases).toHaveLength(2);
    leases.close();
  });

  it("drops a lease when the config changes, and never holds one policy granted on another revision", async () => {
    const policySide: { revision?: string } = {};
    const { policy, admit, settled, returned, config, leases } = harness({
      lease: (_key, count) => ({ requests: 5n, leaseId: `lease-${count}`, ...policySide }),
    });
    await admit();
    await settled();
    expect((await admit()).leaseId).toBe("lease-1");
    // Policy has not caught up with the edit: its next lease names another revision.
    policySide.revision = "some-other-revision";
    config.apply(parseConfig(CONFIG + "\n# edited\n"));
    expect((await admit()).reservationId).toBe("res-2");
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 4n, unusedTokens: 0n }]);
    // That lease goes straight back, unused.
    await settled();
    expect(returned[1]).toEqual({ leaseId: "lease-2", unusedRequests: 5n, unusedTokens: 0n });
    expect((await admit()).reservationId).toBe("res-3");
    expect(policy.admits).toHaveLength(3);
    leases.close();
  });

  it("admits at policy alone for a while when policy cannot lease", async () => {
    const { policy, admit, settled, clock, leases } = harness({ lease: () => new ConnectError("not implemented", Code.Unimplemented) });
    await admit();
    await settled();
    await admit();
    await admit();
    expect(policy.admits).toHaveLength(3);
    expect(policy.leases).toHaveLength(1);
    clock.now += 1_000;
    await admit();
    await settled();
    expect(policy.leases).toHaveLength(2);
    leases.close();
  });

  it("under open access, one lease serves every key", async () => {
    const { policy, admit, settled, leases } = harness({ lease: openAccessLease });
    await admit("anything");
    await settled();
    expect((await admit("something-else")).leaseId).toBe("lease-1");
    expect((await admit("")).principal?.tenant).toBe("default");
    expect(policy.admits).toHaveLength(1);
    leases.close();
  });

  it("returns every limited lease it holds when closed, and nothing of leases without limits", async () => {
    const { admit, settled, returned, leases } = harness({ lease: (key) => (key === "k1" ? { requests: 3n, tokens: 500n } : {}) });
    await admit("k1");
    await admit("k2");
    await settled();
    await admit("k1", "m", 50);
    leases.close();
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 2n, unusedTokens: 450n }]);
  });

  it("after a renewal that brought nothing, keeps the lease in hand and asks again only after a while", async () => {
    const { policy, admit, settled, clock, leases } = harness({ lease: (_key, count) => (count === 1 ? { requests: 10n } : { requests: 0n }) });
    await admit();
    await settled();
    for (let i = 0; i < 6; i++) expect((await admit()).leaseId).toBe("lease-1");
    await settled();
    // The sixth took it below half: one renewal, empty. The next three neither wait for nor ask for another.
    expect(policy.leases).toHaveLength(2);
    for (let i = 0; i < 3; i++) expect((await admit()).leaseId).toBe("lease-1");
    await settled();
    expect(policy.leases).toHaveLength(2);
    clock.now += 100;
    await admit();
    await settled();
    expect(policy.leases).toHaveLength(3);
    leases.close();
  });

  it("never takes more tokens from a lease than it has left: a larger estimate goes to Admit", async () => {
    const { policy, admit, settled, leases } = harness({ lease: (_key, count) => (count === 1 ? { requests: 10n, tokens: 100n } : { requests: 0n, tokens: 0n }) });
    await admit();
    await settled();
    expect(await admit("k1", "m", 40)).toMatchObject({ leaseId: "lease-1", reservedTokens: 40 });
    expect(await admit("k1", "m", 61)).toMatchObject({ leaseId: "", reservationId: "res-2" });
    expect(await admit("k1", "m", 60)).toMatchObject({ leaseId: "lease-1", reservedTokens: 60 });
    expect(await admit("k1", "m", 0)).toMatchObject({ leaseId: "", reservationId: "res-3" });
    expect(policy.admits.map((a) => a.estimatedTokens)).toEqual([10n, 61n, 0n]);
    leases.close();
  });

  it("returns a lease past its time even when its key sends nothing more", async () => {
    const { admit, settled, returned, clock, leases } = harness({ lease: () => ({ requests: 10n }), sweepIntervalMs: 5 });
    await admit();
    await settled();
    await admit();
    clock.now += 1_000;
    await expect.poll(() => returned).toEqual([{ leaseId: "lease-1", unusedRequests: 9n, unusedTokens: 0n }]);
    leases.close();
  });

  it("holds leases for at most maxKeys keys, returning the oldest", async () => {
    const { admit, settled, returned, leases } = harness({ lease: (key) => ({ requests: 3n, leaseId: `lease-${key}` }), maxKeys: 2 });
    for (const key of ["k1", "k2", "k3"]) {
      await admit(key);
      await settled();
    }
    expect(returned).toEqual([{ leaseId: "lease-k1", unusedRequests: 3n, unusedTokens: 0n }]);
    expect((await admit("k3")).leaseId).toBe("lease-k3");
    expect((await admit("k1")).leaseId).toBe("");
    leases.close();
  });

  it("gives back straight away a lease granted after it was closed", async () => {
    const { admit, settled, returned, leases } = harness({ lease: () => ({ requests: 3n }) });
    await admit();
    leases.close();
    await settled();
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 3n, unusedTokens: 0n }]);
    expect((await admit()).leaseId).toBe("");
  });

  it("ends a key's lease when policy refuses to renew it", async () => {
    const { admit, settled, returned, leases } = harness({
      lease: (_key, count) => (count === 1 ? { requests: 4n } : meshError(Code.Unauthenticated, "Incorrect API key provided: ****.", { reason: Reason.InvalidApiKey })),
    });
    await admit();
    await settled();
    await admit();
    await admit();
    await admit();
    await settled();
    expect(returned).toEqual([{ leaseId: "lease-1", unusedRequests: 1n, unusedTokens: 0n }]);
    expect((await admit()).reservationId).toBe("res-2");
    leases.close();
  });

  it("never admits on the open-access lease once the config has keys", async () => {
    const { policy, admit, settled, config, leases } = harness({ lease: openAccessLease });
    await admit("anything");
    await settled();
    expect((await admit("whatever")).leaseId).toBe("lease-1");
    config.apply(parseConfig(CONFIG + "keys: [{ id: k, key: sk-admission-key-0123456789 }]\n"));
    await expect(admit("bad")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(policy.admits.map((a) => a.apiKey)).toEqual(["anything", "bad"]);
    leases.close();
  });

  it("renews the open-access lease once, however many keys its clients send", async () => {
    const { policy, admit, settled, clock, leases } = harness({ lease: openAccessLease });
    await admit("first");
    await settled();
    clock.now += 600;
    await Promise.all(["a", "b", "c", "d", "e"].map((key) => admit(key)));
    await settled();
    expect(policy.leases).toEqual(["first", "a"]);
    leases.close();
  });

  it("renews a lease without limits at half its time, and the renewal takes over at its end: no request waits for policy", async () => {
    const { policy, admit, settled, clock, leases } = harness({ lease: (_key, count) => ({ ttlMs: 1_000n, leaseId: `lease-${count}` }) });
    await admit();
    await settled();
    clock.now += 500;
    expect((await admit()).leaseId).toBe("lease-1");
    await settled();
    clock.now += 500;
    expect((await admit()).leaseId).toBe("lease-2");
    expect(policy.admits).toHaveLength(1);
    expect(policy.leases).toHaveLength(2);
    leases.close();
  });
});
