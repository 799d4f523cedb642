import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { ConfigStore, createLogger, errorDetailOf, parseConfig, silentLogger, type Logger } from "@llmmesh/common";
import { Operation, PolicyService, UsageSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { createPolicyService, type PolicyServiceDeps } from "./policy-service.js";

const MODELS = `
providers:
  - { name: mock, adapter: custom }
models:
  - { name: chat-a, targets: [{ provider: mock, model: a }] }
  - { name: chat-b, targets: [{ provider: mock, model: b }] }
`;

const TEAM_KEY = "sk-team-a-0123456789abcdef";

function clientFor(yaml: string, extra: Partial<PolicyServiceDeps> = {}) {
  const config = new ConfigStore(parseConfig(MODELS + yaml));
  const impl = createPolicyService({ config, logger: silentLogger, ...extra });
  const client = createClient(PolicyService, createRouterTransport((r) => r.service(PolicyService, impl)));
  return { client, config };
}

async function admitError(client: Client<typeof PolicyService>, apiKey: string, model = "chat-a"): Promise<ConnectError> {
  const err = await client.admit({ apiKey, operation: Operation.CHAT, model }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({}, "debug", (line) => lines.push(line)), lines };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("authentication", () => {
  it("admits anyone as the default tenant when no keys are configured, warning once", async () => {
    const { logger, lines } = recordingLogger();
    const { client } = clientFor("", { logger });
    const first = await client.admit({ apiKey: "", operation: Operation.CHAT, model: "chat-a" });
    await client.admit({ apiKey: "anything", operation: Operation.CHAT, model: "chat-b" });
    expect(first.principal).toMatchObject({ keyId: "", tenant: "default", allowedModels: [] });
    expect(first.reservationId).not.toBe("");
    expect(lines.filter((l) => l.includes("no keys configured: open access"))).toHaveLength(1);
  });

  it("refuses a request without a key when keys are configured", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    const err = await admitError(client, "");
    expect(err.code).toBe(Code.Unauthenticated);
    expect(errorDetailOf(err)?.reason).toBe("missing_api_key");
    expect(err.rawMessage).toMatch(/^You didn't provide an API key\./);
  });

  it("refuses a wrong key and shows only a masked form of it", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    const presented = "sk-wrong-key-0123456789xyz";
    const err = await admitError(client, presented);
    expect(err.code).toBe(Code.Unauthenticated);
    expect(errorDetailOf(err)?.reason).toBe("invalid_api_key");
    expect(err.rawMessage).toBe("Incorrect API key provided: sk-w****yz.");
    expect(err.message).not.toContain(presented);
  });

  it("masks a short wrong key completely", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    const err = await admitError(client, "short");
    expect(err.rawMessage).toBe("Incorrect API key provided: ****.");
  });

  it("accepts a key configured as a literal, with its tenant and models", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, tenant: acme, models: [chat-a] }]`);
    const res = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    expect(res.principal).toMatchObject({ keyId: "team-a", tenant: "acme", allowedModels: ["chat-a"] });
  });

  it("accepts a key configured by its sha256 (in either case)", async () => {
    const { client } = clientFor(`keys: [{ id: hashed, key_sha256: "${sha256(TEAM_KEY).toUpperCase()}" }]`);
    const res = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    expect(res.principal?.keyId).toBe("hashed");
    expect((await admitError(client, TEAM_KEY + "x")).code).toBe(Code.Unauthenticated);
  });

  it("resolves ${ENV} keys, and makes a key with an unset variable unusable without logging any secret", async () => {
    const { logger, lines } = recordingLogger();
    const env = { TEAM_KEY_ENV: "sk-from-env-0123456789" };
    const { client } = clientFor(
      `keys:
  - { id: from-env, key: "\${TEAM_KEY_ENV}" }
  - { id: unset, key: "\${MISSING_KEY_ENV}" }
`,
      { logger, env },
    );
    const res = await client.admit({ apiKey: "sk-from-env-0123456789", operation: Operation.CHAT, model: "chat-a" });
    expect(res.principal?.keyId).toBe("from-env");
    // A literal "${MISSING_KEY_ENV}" must not work as a key.
    expect((await admitError(client, "${MISSING_KEY_ENV}")).code).toBe(Code.Unauthenticated);
    await client.admit({ apiKey: "sk-from-env-0123456789", operation: Operation.CHAT, model: "chat-a" });
    const warnings = lines.filter((l) => l.includes("MISSING_KEY_ENV"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"keyId":"unset"');
    expect(lines.join("\n")).not.toContain("sk-from-env-0123456789");
  });

  it("lists models without limits and without a reservation", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, models: [chat-b], limits: { rpm: 1 } }]`);
    for (let i = 0; i < 3; i++) {
      const res = await client.admit({ apiKey: TEAM_KEY, operation: Operation.LIST_MODELS });
      expect(res.principal?.allowedModels).toEqual(["chat-b"]);
      expect(res.reservationId).toBe("");
    }
  });

  it("follows config reloads: a removed key stops working", async () => {
    const { client, config } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    config.apply(parseConfig(MODELS + `keys: [{ id: team-b, key: sk-team-b-0123456789abcdef }]`));
    expect(errorDetailOf(await admitError(client, TEAM_KEY))?.reason).toBe("invalid_api_key");
  });
});

describe("model access", () => {
  it("answers 404-style for a model that is not configured", async () => {
    const { client } = clientFor("");
    const err = await admitError(client, "", "gpt-nope");
    expect(err.code).toBe(Code.NotFound);
    expect(errorDetailOf(err)?.reason).toBe("model_not_found");
    expect(err.rawMessage).toBe("The model 'gpt-nope' does not exist or you do not have access to it.");
  });

  it("answers 403-style for a model outside the key's list", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, models: [chat-a] }]`);
    const err = await admitError(client, TEAM_KEY, "chat-b");
    expect(err.code).toBe(Code.PermissionDenied);
    expect(errorDetailOf(err)?.reason).toBe("model_not_allowed");
  });

  it("admits text completions like chat: the key's model list, one shared RPM bucket, a reservation to settle", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, models: [chat-a], limits: { rpm: 2 } }]`, { now: () => 0 });
    const complete = (model: string) => client.admit({ apiKey: TEAM_KEY, operation: Operation.COMPLETE, model });
    const denied = await complete("chat-b").then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(denied?.code).toBe(Code.PermissionDenied);
    expect((await complete("chat-a")).reservationId).not.toBe("");
    await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    const limited = await complete("chat-a").then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(limited?.code).toBe(Code.ResourceExhausted);
  });

  it("checks the key before the model", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    expect((await admitError(client, "sk-wrong-0123456789", "gpt-nope")).code).toBe(Code.Unauthenticated);
  });
});

describe("rate limits", () => {
  it("refuses the request past the RPM limit with the time until the next token", async () => {
    let clock = 1_000_000;
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { rpm: 2 } }]`, { now: () => clock });
    const admit = () => client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    await admit();
    await admit();
    const err = await admitError(client, TEAM_KEY);
    expect(err.code).toBe(Code.ResourceExhausted);
    const detail = errorDetailOf(err);
    expect(detail?.reason).toBe("rate_limited");
    // Two per minute refill one token every 30 s.
    expect(detail?.retryAfterMs).toBe(30_000n);
    clock += 10_000;
    expect(errorDetailOf(await admitError(client, TEAM_KEY))?.retryAfterMs).toBe(20_000n);
    clock += 20_000;
    await expect(admit()).resolves.toBeDefined();
  });

  it("keeps the buckets across a reload with unchanged limits, and resets them when limits change", async () => {
    const clock = 5_000;
    const keys = (rpm: number) => `keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { rpm: ${rpm} } }]`;
    const { client, config } = clientFor(keys(1), { now: () => clock });
    await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    config.apply(parseConfig(MODELS + keys(1) + "\n# reloaded\n"));
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
    config.apply(parseConfig(MODELS + keys(5)));
    await expect(client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" })).resolves.toBeDefined();
  });

  it("admits on TPM while tokens remain and charges the real usage at Settle", async () => {
    const clock = 0;
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { tpm: 1000 } }]`, { now: () => clock });
    const admit = (estimatedTokens: bigint) => client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a", estimatedTokens });
    // One large estimate is admitted while the bucket is positive...
    const big = await admit(900n);
    // ...and settles lower, which gives the difference back.
    await client.settle({ reservationId: big.reservationId, succeeded: true, usage: create(UsageSchema, { totalTokens: 100n }) });
    const second = await admit(800n);
    await client.settle({ reservationId: second.reservationId, succeeded: true, usage: create(UsageSchema, { totalTokens: 950n }) });
    // 1000 - 100 - 950 < 0: refused until it refills.
    const err = await admitError(client, TEAM_KEY);
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("tokens per minute");
    expect(errorDetailOf(err)?.retryAfterMs).toBeGreaterThan(0n);
  });

  it("releases the whole reservation of a failed request", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { tpm: 100 } }]`, { now: () => 0 });
    const first = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a", estimatedTokens: 150n });
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
    await client.settle({ reservationId: first.reservationId, succeeded: false });
    await expect(client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" })).resolves.toBeDefined();
  });
});

describe("usage accounting", () => {
  it("totals usage per key and per tenant, ignoring repeated and unknown settlements", async () => {
    const { client } = clientFor(`keys:
  - { id: team-a, key: ${TEAM_KEY}, tenant: acme }
  - { id: team-b, key: sk-team-b-0123456789abcdef, tenant: acme }
`);
    const usage = (p: bigint, c: bigint) => create(UsageSchema, { promptTokens: p, completionTokens: c, totalTokens: p + c });
    const a = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    const b = await client.admit({ apiKey: "sk-team-b-0123456789abcdef", operation: Operation.EMBED, model: "chat-b" });
    const failed = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    await client.settle({ reservationId: a.reservationId, principal: a.principal, succeeded: true, usage: usage(10n, 5n) });
    await client.settle({ reservationId: a.reservationId, principal: a.principal, succeeded: true, usage: usage(10n, 5n) });
    await client.settle({ reservationId: "no-such-reservation", succeeded: true, usage: usage(99n, 99n) });
    await client.settle({ reservationId: b.reservationId, principal: b.principal, succeeded: true, usage: usage(7n, 0n) });
    await client.settle({ reservationId: failed.reservationId, principal: failed.principal, succeeded: false });

    expect(await client.getUsage({ keyId: "team-a" })).toMatchObject({ requests: 1n, promptTokens: 10n, completionTokens: 5n });
    expect(await client.getUsage({ keyId: "team-b" })).toMatchObject({ requests: 1n, promptTokens: 7n, completionTokens: 0n });
    expect(await client.getUsage({ tenant: "acme" })).toMatchObject({ requests: 2n, promptTokens: 17n, completionTokens: 5n });
    expect(await client.getUsage({ tenant: "other" })).toMatchObject({ requests: 0n, promptTokens: 0n, completionTokens: 0n });
  });

  it("settles a batch as it settles each of its settlements", async () => {
    const { client } = clientFor(`keys:
  - { id: team-a, key: ${TEAM_KEY}, tenant: acme }
`);
    const usage = (p: bigint, c: bigint) => create(UsageSchema, { promptTokens: p, completionTokens: c, totalTokens: p + c });
    const first = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    const second = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });
    await client.settleBatch({
      settlements: [
        { reservationId: first.reservationId, succeeded: true, usage: usage(10n, 5n) },
        { reservationId: first.reservationId, succeeded: true, usage: usage(10n, 5n) },
        { reservationId: second.reservationId, succeeded: true, usage: usage(1n, 2n) },
      ],
    });
    expect(await client.getUsage({ keyId: "team-a" })).toMatchObject({ requests: 2n, promptTokens: 11n, completionTokens: 7n });
  });

  it("accounts open access under the default tenant", async () => {
    const { client } = clientFor("");
    const res = await client.admit({ apiKey: "", operation: Operation.CHAT, model: "chat-a" });
    await client.settle({ reservationId: res.reservationId, succeeded: true, usage: create(UsageSchema, { promptTokens: 3n, completionTokens: 4n }) });
    expect(await client.getUsage({ tenant: "default" })).toMatchObject({ requests: 1n, promptTokens: 3n, completionTokens: 4n });
  });

  it("needs a key id or tenant to report usage", async () => {
    const { client } = clientFor("");
    await expect(client.getUsage({})).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});

describe("leases", () => {
  const chat = (client: Client<typeof PolicyService>) => client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a" });

  it("leases a key without limits for its principal alone, naming the revision it decided on", async () => {
    const { client, config } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, tenant: acme, models: [chat-a] }]`);
    const lease = await client.lease({ apiKey: TEAM_KEY });
    expect(lease.principal).toMatchObject({ keyId: "team-a", tenant: "acme", allowedModels: ["chat-a"] });
    expect(lease.requests).toBeUndefined();
    expect(lease.tokens).toBeUndefined();
    expect(lease.leaseId).not.toBe("");
    expect(lease.revision).toBe(config.current().revision);
    expect(lease.ttlMs).toBeGreaterThan(0n);
  });

  it("refuses to lease for a bad key as Admit refuses it", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY} }]`);
    const err = await client.lease({ apiKey: "sk-wrong-key-0123456789xyz" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.rawMessage).toBe("Incorrect API key provided: sk-w****yz.");
  });

  it("takes a twentieth of each limit from the key's buckets, and gives back what the router returns", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { rpm: 40, tpm: 2000 } }]`, { now: () => 0 });
    const lease = await client.lease({ apiKey: TEAM_KEY });
    expect([lease.requests, lease.tokens]).toEqual([2n, 100n]);
    // 38 requests are left for Admit: the 39th is refused while the lease holds two.
    for (let i = 0; i < 38; i++) await chat(client);
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
    await client.settleBatch({ leaseReturns: [{ leaseId: lease.leaseId, unusedRequests: 1n, unusedTokens: 100n }] });
    await expect(chat(client)).resolves.toBeDefined();
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
    // A second return of the same lease gives nothing more.
    await client.settleBatch({ leaseReturns: [{ leaseId: lease.leaseId, unusedRequests: 1n, unusedTokens: 0n }] });
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
  });

  it("never gives back more than the lease held", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { rpm: 40 } }]`, { now: () => 0 });
    const lease = await client.lease({ apiKey: TEAM_KEY });
    for (let i = 0; i < 38; i++) await chat(client);
    await client.settleBatch({ leaseReturns: [{ leaseId: lease.leaseId, unusedRequests: 500n }] });
    await chat(client);
    await chat(client);
    expect((await admitError(client, TEAM_KEY)).code).toBe(Code.ResourceExhausted);
  });

  it("leases nothing, and takes nothing, from a key at its limit", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, limits: { rpm: 1, tpm: 1000 } }]`, { now: () => 0 });
    const first = await client.lease({ apiKey: TEAM_KEY });
    expect([first.requests, first.tokens]).toEqual([1n, 50n]);
    const empty = await client.lease({ apiKey: TEAM_KEY });
    expect([empty.requests, empty.tokens]).toEqual([0n, 0n]);
    await client.settleBatch({ leaseReturns: [{ leaseId: first.leaseId, unusedRequests: 1n, unusedTokens: 50n }] });
    await expect(chat(client)).resolves.toBeDefined();
  });

  it("charges a leased request's real tokens beyond its estimate, and gives back only what a lease held", async () => {
    const { client } = clientFor(`keys: [{ id: team-a, key: ${TEAM_KEY}, tenant: acme, limits: { tpm: 1000 } }]`, { now: () => 0 });
    const lease = await client.lease({ apiKey: TEAM_KEY });
    expect(lease.tokens).toBe(50n);
    // Two requests reserved 20 and 30 of the lease's 50; they really used 400 and 30.
    await client.settleBatch({
      settlements: [
        { leaseId: lease.leaseId, principal: lease.principal, reservedTokens: 20n, succeeded: true, usage: create(UsageSchema, { promptTokens: 300n, completionTokens: 100n }) },
        { leaseId: lease.leaseId, principal: lease.principal, reservedTokens: 30n, succeeded: true, usage: create(UsageSchema, { totalTokens: 30n, promptTokens: 20n, completionTokens: 10n }) },
      ],
      // A return claiming a negative remainder charges nothing more.
      leaseReturns: [{ leaseId: lease.leaseId, unusedTokens: -20n }],
    });
    // 1000 - 50 - 380 = 570 left: an estimate of 570 is admitted, and the next request is refused.
    const admitted = await client.admit({ apiKey: TEAM_KEY, operation: Operation.CHAT, model: "chat-a", estimatedTokens: 570n });
    expect(admitted.reservationId).not.toBe("");
    expect((await admitError(client, TEAM_KEY)).rawMessage).toContain("tokens per minute");
    expect(await client.getUsage({ tenant: "acme" })).toMatchObject({ requests: 2n, promptTokens: 320n, completionTokens: 110n });
  });

  it("accounts leased requests under open access to the default tenant", async () => {
    const { client } = clientFor("");
    const lease = await client.lease({ apiKey: "anything" });
    expect(lease.principal).toMatchObject({ keyId: "", tenant: "default" });
    await client.settle({ leaseId: lease.leaseId, principal: lease.principal, succeeded: true, usage: create(UsageSchema, { promptTokens: 3n, completionTokens: 4n }) });
    await client.settle({ leaseId: lease.leaseId, principal: lease.principal, succeeded: false });
    expect(await client.getUsage({ tenant: "default" })).toMatchObject({ requests: 1n, promptTokens: 3n, completionTokens: 4n });
  });
});
