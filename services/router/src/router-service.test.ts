import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ConfigStore, errorDetailOf, meshError, parseConfig, silentLogger } from "@llmmesh/common";
import {
  AdapterService,
  ChatChunkSchema,
  ChatRequestSchema,
  ChatResponseSchema,
  CompletionChunkSchema,
  CompletionRequestSchema,
  CompletionResponseSchema,
  EmbedRequestSchema,
  EmbedResponseSchema,
  MessageSchema,
  Operation,
  PolicyService,
  PrincipalSchema,
  RouterService,
  UsageSchema,
  type AdmitRequest,
  type ChatChunk,
  type SettleRequest,
} from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { createRouterService } from "./router-service.js";

const CONFIG = `
providers:
  - { name: p1, adapter: openai }
  - { name: p2, adapter: custom }
models:
  - name: m
    routing: { retries: 2, backoff_ms: 100, timeout_ms: 10000 }
    targets: [{ provider: p1, model: up1 }, { provider: p2, model: up2 }]
  - name: solo
    routing: { retries: 2, backoff_ms: 100, timeout_ms: 10000 }
    targets: [{ provider: p1, model: up1 }]
  - name: quick
    routing: { retries: 2, backoff_ms: 10, timeout_ms: 50 }
    targets: [{ provider: p1, model: up1 }]
  - { name: listed, owned_by: acme, targets: [{ provider: p2, model: up2 }] }
`;

/** What a fake upstream does on one call: fail before answering, answer, or stream chunks then maybe fail. */
type Step =
  | ConnectError
  | { text: string; usage?: bigint }
  | { chunks: string[]; usage?: bigint; thenFail?: ConnectError; pauseAfterFirstMs?: number }
  | "hang";

interface AdapterCall {
  provider: string;
  targetModel: string;
  chatModel: string;
  timeoutMs: number | undefined;
}

function upstreamError(code: Code, upstreamStatus: number, retryAfterMs = 0n) {
  return meshError(code, `upstream answered ${upstreamStatus}`, { reason: "upstream_error", upstreamStatus, retryAfterMs });
}

const usageOf = (total: bigint) => create(UsageSchema, { promptTokens: total - 1n, completionTokens: 1n, totalTokens: total });

/** In-memory upstreams: each provider follows its script of steps, then answers normally. */
function fakeAdapter(scripts: Record<string, Step[]>) {
  const calls: AdapterCall[] = [];
  const next = (provider: string, targetModel: string, chatModel: string, ctx: HandlerContext): Step => {
    calls.push({ provider, targetModel, chatModel, timeoutMs: ctx.timeoutMs() });
    return scripts[provider]?.shift() ?? { text: `hello from ${provider}` };
  };
  const hang = (ctx: HandlerContext) =>
    new Promise<never>((_, reject) => ctx.signal.addEventListener("abort", () => reject(ConnectError.from(ctx.signal.reason)), { once: true }));
  const impl: Partial<ServiceImpl<typeof AdapterService>> = {
    async chat(req, ctx) {
      const step = next(req.target!.provider, req.target!.model, req.chat!.model, ctx);
      if (step instanceof ConnectError) throw step;
      if (step === "hang") return hang(ctx);
      const text = "text" in step ? step.text : "";
      const usage = "usage" in step && step.usage !== undefined ? usageOf(step.usage) : undefined;
      return {
        chat: create(ChatResponseSchema, {
          id: "cmpl-1",
          model: req.target!.model,
          choices: [{ index: 0n, message: create(MessageSchema, { role: "assistant", content: { case: "text", value: text } }) }],
          usage,
        }),
      };
    },
    async *chatStream(req, ctx) {
      const step = next(req.target!.provider, req.target!.model, req.chat!.model, ctx);
      if (step instanceof ConnectError) throw step;
      if (step === "hang") return await hang(ctx);
      const chunks = "chunks" in step ? step.chunks : ["a", "b"];
      for (const [i, content] of chunks.entries()) {
        if (i === 1 && "pauseAfterFirstMs" in step) await new Promise((resolve) => setTimeout(resolve, step.pauseAfterFirstMs));
        yield { chunk: create(ChatChunkSchema, { id: "c", model: req.target!.model, choices: [{ index: 0n, delta: { content } }] }) };
      }
      if ("usage" in step && step.usage !== undefined) yield { chunk: create(ChatChunkSchema, { id: "c", usage: usageOf(step.usage) }) };
      if ("thenFail" in step && step.thenFail) throw step.thenFail;
    },
    async complete(req, ctx) {
      const step = next(req.target!.provider, req.target!.model, req.completion!.model, ctx);
      if (step instanceof ConnectError) throw step;
      if (step === "hang") return hang(ctx);
      const text = "text" in step ? step.text : "";
      const usage = "usage" in step && step.usage !== undefined ? usageOf(step.usage) : undefined;
      return { completion: create(CompletionResponseSchema, { id: "cmpl-1", model: req.target!.model, choices: [{ index: 0n, text }], usage }) };
    },
    async *completeStream(req, ctx) {
      const step = next(req.target!.provider, req.target!.model, req.completion!.model, ctx);
      if (step instanceof ConnectError) throw step;
      if (step === "hang") return await hang(ctx);
      for (const text of "chunks" in step ? step.chunks : ["a", "b"]) {
        yield { chunk: create(CompletionChunkSchema, { id: "c", model: req.target!.model, choices: [{ index: 0n, text }] }) };
      }
      if ("usage" in step && step.usage !== undefined) yield { chunk: create(CompletionChunkSchema, { id: "c", usage: usageOf(step.usage) }) };
      if ("thenFail" in step && step.thenFail) throw step.thenFail;
    },
    async embed(req, ctx) {
      const step = next(req.target!.provider, req.target!.model, req.embed!.model, ctx);
      if (step instanceof ConnectError) throw step;
      return { embed: create(EmbedResponseSchema, { model: req.target!.model, data: [{ index: 0n, vector: [0.5] }], usage: usageOf(3n) }) };
    },
  };
  return { client: createClient(AdapterService, createRouterTransport((r) => r.service(AdapterService, impl))), calls };
}

/** A policy that admits everyone (unless told otherwise) and records what it was asked. */
function fakePolicy(options: { admit?: (req: AdmitRequest) => void; allowedModels?: string[]; settleFails?: boolean } = {}) {
  const admits: AdmitRequest[] = [];
  const settles: SettleRequest[] = [];
  const waiters: Array<(s: SettleRequest) => void> = [];
  const impl: Partial<ServiceImpl<typeof PolicyService>> = {
    admit(req) {
      admits.push(req);
      options.admit?.(req);
      return {
        principal: create(PrincipalSchema, { keyId: "team-a", tenant: "acme", allowedModels: options.allowedModels ?? [] }),
        reservationId: req.operation === Operation.LIST_MODELS ? "" : `res-${admits.length}`,
      };
    },
    settle(req) {
      settles.push(req);
      waiters.shift()?.(req);
      if (options.settleFails) throw new ConnectError("ledger down", Code.Unavailable);
      return {};
    },
  };
  const client = createClient(PolicyService, createRouterTransport((r) => r.service(PolicyService, impl)));
  /** The next Settle to arrive (Settle is fire and forget, so tests wait for it). */
  const nextSettle = () => new Promise<SettleRequest>((resolve) => waiters.push(resolve));
  return { client, admits, settles, nextSettle };
}

interface HarnessOptions {
  scripts?: Record<string, Step[]>;
  policy?: ReturnType<typeof fakePolicy>;
  missingAdapters?: string[];
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function harness(options: HarnessOptions = {}) {
  const adapter = fakeAdapter(options.scripts ?? {});
  const policy = options.policy ?? fakePolicy();
  const delays: number[] = [];
  const impl = createRouterService({
    config: new ConfigStore(parseConfig(CONFIG)),
    policy: policy.client,
    adapterFor: (name) => (options.missingAdapters?.includes(name) ? undefined : adapter.client),
    logger: silentLogger,
    sleep:
      options.sleep ??
      (async (ms) => {
        delays.push(ms);
      }),
    random: () => 0.5,
  });
  const router: Client<typeof RouterService> = createClient(RouterService, createRouterTransport((r) => r.service(RouterService, impl)));
  return { router, calls: adapter.calls, policy, delays };
}

const chatRequest = (model: string, text = "Say hello") =>
  create(ChatRequestSchema, { model, maxTokens: 10n, messages: [{ role: "user", content: { case: "text", value: text } }] });

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

async function collect(stream: AsyncIterable<{ chunk?: ChatChunk; served?: { provider: string; model: string; attempts: number } }>) {
  const messages: Array<{ content: string | undefined; served?: { provider: string; model: string; attempts: number } }> = [];
  let error: ConnectError | undefined;
  try {
    for await (const m of stream) messages.push({ content: m.chunk?.choices[0]?.delta?.content, served: m.served });
  } catch (e) {
    error = ConnectError.from(e);
  }
  return { messages, error };
}

describe("Chat", () => {
  it("serves from the first target, sending the upstream model name, and says where in headers and body", async () => {
    const { router, calls } = harness();
    let headers: Headers | undefined;
    const res = await router.chat({ chat: chatRequest("m") }, { onHeader: (h) => (headers = h) });
    expect(res.served).toMatchObject({ provider: "p1", model: "up1", attempts: 1 });
    expect(res.chat?.choices[0]?.message?.content).toEqual({ case: "text", value: "hello from p1" });
    expect(calls).toMatchObject([{ provider: "p1", targetModel: "up1", chatModel: "up1" }]);
    expect(headers?.get("x-llmmesh-served-by")).toBe("p1/up1");
    expect(headers?.get("x-llmmesh-attempts")).toBe("1");
  });

  it("passes the deadline's remaining time to the adapter", async () => {
    const { router, calls } = harness();
    await router.chat({ chat: chatRequest("m") });
    expect(calls[0]?.timeoutMs).toBeGreaterThan(0);
    expect(calls[0]?.timeoutMs).toBeLessThanOrEqual(10_000);
  });

  it("retries a target after Unavailable, with jittered exponential backoff, then succeeds", async () => {
    const { router, calls, delays } = harness({ scripts: { p1: [upstreamError(Code.Unavailable, 503), upstreamError(Code.Unavailable, 503)] } });
    const res = await router.chat({ chat: chatRequest("m") });
    expect(res.served).toMatchObject({ provider: "p1", attempts: 3 });
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p1", "p1"]);
    // random() = 0.5: half of 100 ms, then half of 200 ms.
    expect(delays).toEqual([50, 100]);
  });

  it("goes to the next target at once when the first answers 429", async () => {
    const { router, calls, delays } = harness({ scripts: { p1: [upstreamError(Code.ResourceExhausted, 429, 1_000n)] } });
    const res = await router.chat({ chat: chatRequest("m") });
    expect(res.served).toMatchObject({ provider: "p2", model: "up2", attempts: 2 });
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p2"]);
    expect(delays).toEqual([]);
  });

  it("retries a 429 on the last target after the Retry-After it asked for", async () => {
    const { router, delays } = harness({ scripts: { p1: [upstreamError(Code.ResourceExhausted, 429, 2_000n)] } });
    const res = await router.chat({ chat: chatRequest("solo") });
    expect(res.served).toMatchObject({ provider: "p1", attempts: 2 });
    expect(delays).toEqual([2_000]);
  });

  it("does not wait for a Retry-After longer than the time left, and reports the 429", async () => {
    const { router, delays } = harness({ scripts: { p1: [upstreamError(Code.ResourceExhausted, 429, 60_000n)] } });
    const err = await failure(router.chat({ chat: chatRequest("solo") }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(errorDetailOf(err)).toMatchObject({ upstreamStatus: 429, retryAfterMs: 60_000n });
    expect(delays).toEqual([]);
  });

  it("never waits less than the upstream's Retry-After when retrying", async () => {
    const { router, delays } = harness({ scripts: { p1: [upstreamError(Code.Unavailable, 503, 1_500n)] } });
    await router.chat({ chat: chatRequest("m") });
    expect(delays).toEqual([1_500]);
  });

  it("falls back to the next target once retries are exhausted", async () => {
    const down = () => upstreamError(Code.Unavailable, 503);
    const { router, calls, delays } = harness({ scripts: { p1: [down(), down(), down()] } });
    const res = await router.chat({ chat: chatRequest("m") });
    expect(res.served).toMatchObject({ provider: "p2", attempts: 4 });
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p1", "p1", "p2"]);
    expect(delays).toEqual([50, 100]);
  });

  it("reports the last error with its detail when every target failed", async () => {
    const down = () => upstreamError(Code.Unavailable, 503);
    const broken = () => upstreamError(Code.Internal, 500);
    const { router, calls } = harness({ scripts: { p1: [down(), down(), down()], p2: [broken(), broken(), broken()] } });
    const err = await failure(router.chat({ chat: chatRequest("m") }));
    expect(calls).toHaveLength(6);
    expect(err.code).toBe(Code.Internal);
    expect(errorDetailOf(err)).toMatchObject({ reason: "upstream_error", upstreamStatus: 500, provider: "p2" });
    expect(err.rawMessage).toContain("'m'");
    expect(err.rawMessage).toContain("6 attempts");
  });

  it("does not retry the client's own mistakes and passes them on unchanged", async () => {
    const invalid = meshError(Code.InvalidArgument, "messages[0].role is invalid", { reason: "invalid_request", param: "messages", upstreamStatus: 400 });
    const { router, calls } = harness({ scripts: { p1: [invalid] } });
    const err = await failure(router.chat({ chat: chatRequest("m") }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("messages[0].role is invalid");
    expect(errorDetailOf(err)?.param).toBe("messages");
    expect(calls).toHaveLength(1);
  });

  it("treats a provider refusing the gateway's credentials as a gateway-side error, not the client's 401", async () => {
    const { router, calls } = harness({
      scripts: { p1: [upstreamError(Code.Unauthenticated, 401)], p2: [upstreamError(Code.NotFound, 404)] },
    });
    const err = await failure(router.chat({ chat: chatRequest("m") }));
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p2"]);
    expect(err.code).toBe(Code.Internal);
    expect(errorDetailOf(err)).toMatchObject({ reason: "upstream_error", upstreamStatus: 404, provider: "p2" });
    expect(err.rawMessage).toContain("misconfigured");
  });

  it("skips a target whose adapter is not reachable", async () => {
    const { router, calls } = harness({ missingAdapters: ["openai"] });
    const res = await router.chat({ chat: chatRequest("m") });
    expect(res.served).toMatchObject({ provider: "p2", attempts: 1 });
    expect(calls.map((c) => c.provider)).toEqual(["p2"]);
  });

  it("says no adapter is reachable when none is", async () => {
    const { router } = harness({ missingAdapters: ["openai"] });
    const err = await failure(router.chat({ chat: chatRequest("solo") }));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toContain("No adapter 'openai'");
  });

  it("gives up with DeadlineExceeded when the model's time budget runs out", async () => {
    const { router, calls } = harness({ scripts: { p1: ["hang"] } });
    const err = await failure(router.chat({ chat: chatRequest("quick") }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(errorDetailOf(err)?.reason).toBe("upstream_timeout");
    expect(calls).toHaveLength(1);
  });

  it("stops at once when the client cancels during an attempt", async () => {
    const controller = new AbortController();
    const { router, calls } = harness({ scripts: { p1: ["hang"] } });
    const pending = failure(router.chat({ chat: chatRequest("m") }, { signal: controller.signal }));
    await expect.poll(() => calls.length).toBe(1);
    controller.abort();
    expect((await pending).code).toBe(Code.Canceled);
    // Give any (wrong) further attempt the chance to start before checking there was none.
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toHaveLength(1);
  });

  it("makes no further attempt when the client cancels during a backoff", async () => {
    const controller = new AbortController();
    let sleeping = 0;
    const { router, calls } = harness({
      scripts: { p1: [upstreamError(Code.Unavailable, 503)] },
      sleep: (_ms, signal) => {
        sleeping++;
        controller.abort();
        return new Promise((_, reject) => (signal.aborted ? reject(signal.reason) : signal.addEventListener("abort", () => reject(signal.reason))));
      },
    });
    const err = await failure(router.chat({ chat: chatRequest("m") }, { signal: controller.signal }));
    expect(err.code).toBe(Code.Canceled);
    expect(sleeping).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it("passes policy's refusal through unchanged and calls no adapter", async () => {
    const policy = fakePolicy({
      admit: () => {
        throw meshError(Code.Unauthenticated, "Incorrect API key provided: sk-w****yz.", { reason: "invalid_api_key" });
      },
    });
    const { router, calls } = harness({ policy });
    const err = await failure(router.chat({ chat: chatRequest("no-such-model") }, { headers: { authorization: "Bearer sk-wrong-key-xyz" } }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe("Incorrect API key provided: sk-w****yz.");
    expect(errorDetailOf(err)?.reason).toBe("invalid_api_key");
    expect(policy.admits[0]).toMatchObject({ apiKey: "sk-wrong-key-xyz", operation: Operation.CHAT, model: "no-such-model" });
    expect(calls).toHaveLength(0);
  });

  it("asks policy to reserve an estimate of the request's tokens", async () => {
    const { router, policy } = harness();
    await router.chat({ chat: chatRequest("m", "x".repeat(40)) });
    // 40 characters ≈ 10 tokens, plus max_tokens 10.
    expect(policy.admits[0]?.estimatedTokens).toBe(20n);
    expect(policy.admits[0]?.apiKey).toBe("");
  });

  it("settles the reservation with the answer's usage and served target", async () => {
    const { router, policy } = harness({ scripts: { p1: [{ text: "hi", usage: 42n }] } });
    const settled = policy.nextSettle();
    await router.chat({ chat: chatRequest("m") });
    expect(await settled).toMatchObject({
      reservationId: "res-1",
      model: "m",
      succeeded: true,
      principal: { keyId: "team-a", tenant: "acme" },
      target: { provider: "p1", model: "up1" },
      usage: { totalTokens: 42n },
    });
  });

  it("settles a failed request as failed", async () => {
    const { router, policy } = harness({ scripts: { p1: [upstreamError(Code.InvalidArgument, 400)] } });
    const settled = policy.nextSettle();
    await failure(router.chat({ chat: chatRequest("m") }));
    expect(await settled).toMatchObject({ reservationId: "res-1", succeeded: false, target: { provider: "p1" } });
  });

  it("answers even when Settle fails", async () => {
    const policy = fakePolicy({ settleFails: true });
    const { router } = harness({ policy });
    const settled = policy.nextSettle();
    await expect(router.chat({ chat: chatRequest("m") })).resolves.toMatchObject({ served: { provider: "p1" } });
    await settled;
  });
});

describe("ChatStream", () => {
  it("streams every chunk, the first one carrying where it was served", async () => {
    const { router } = harness({ scripts: { p1: [{ chunks: ["Hel", "lo"] }] } });
    const { messages, error } = await collect(router.chatStream({ chat: chatRequest("m") }));
    expect(error).toBeUndefined();
    expect(messages).toEqual([
      { content: "Hel", served: expect.objectContaining({ provider: "p1", model: "up1", attempts: 1 }) },
      { content: "lo", served: undefined },
    ]);
  });

  it("retries and falls back invisibly while no chunk has arrived", async () => {
    const down = () => upstreamError(Code.Unavailable, 503);
    const { router, calls } = harness({ scripts: { p1: [down(), down(), down()], p2: [{ chunks: ["ok"] }] } });
    const { messages, error } = await collect(router.chatStream({ chat: chatRequest("m") }));
    expect(error).toBeUndefined();
    expect(messages).toEqual([{ content: "ok", served: expect.objectContaining({ provider: "p2", attempts: 4 }) }]);
    expect(calls.map((c) => c.chatModel)).toEqual(["up1", "up1", "up1", "up2"]);
  });

  it("passes a failure after the first chunk to the client without retrying", async () => {
    const { router, calls, policy } = harness({ scripts: { p1: [{ chunks: ["partial"], thenFail: upstreamError(Code.Unavailable, 503) }] } });
    const settled = policy.nextSettle();
    const { messages, error } = await collect(router.chatStream({ chat: chatRequest("m") }));
    expect(messages.map((m) => m.content)).toEqual(["partial"]);
    expect(error?.code).toBe(Code.Unavailable);
    expect(errorDetailOf(error!)?.upstreamStatus).toBe(503);
    expect(calls).toHaveLength(1);
    expect(await settled).toMatchObject({ succeeded: false });
  });

  it("settles with the usage of the final usage chunk", async () => {
    const { router, policy } = harness({ scripts: { p1: [{ chunks: ["a"], usage: 7n }] } });
    const settled = policy.nextSettle();
    const { error } = await collect(router.chatStream({ chat: chatRequest("m") }));
    expect(error).toBeUndefined();
    expect(await settled).toMatchObject({ succeeded: true, usage: { totalTokens: 7n }, target: { provider: "p1" } });
  });

  it("lets a stream that has started outlive the model's time budget", async () => {
    // "quick" allows 50 ms; the deadline bounds the wait for the first chunk, not the whole answer.
    const { router } = harness({ scripts: { p1: [{ chunks: ["first", "late"], pauseAfterFirstMs: 120 }] } });
    const { messages, error } = await collect(router.chatStream({ chat: chatRequest("quick") }));
    expect(error).toBeUndefined();
    expect(messages.map((m) => m.content)).toEqual(["first", "late"]);
  });

  it("gives up with DeadlineExceeded when no chunk arrives in time", async () => {
    const { router } = harness({ scripts: { p1: ["hang"] } });
    const { messages, error } = await collect(router.chatStream({ chat: chatRequest("quick") }));
    expect(messages).toEqual([]);
    expect(error?.code).toBe(Code.DeadlineExceeded);
    expect(errorDetailOf(error!)?.reason).toBe("upstream_timeout");
  });
});

/** A text-completion request; 8 prompt characters ≈ 2 tokens. */
const completionRequest = (model: string, extra: { maxTokens?: bigint; n?: bigint } = {}) =>
  create(CompletionRequestSchema, { model, prompt: { case: "text", value: "Once upo" }, ...extra });

/** What a target without the completions API answers (see createAdapterRpcs). */
const refusal = (provider: string) =>
  meshError(Code.InvalidArgument, `model "x" of provider "${provider}" does not support the completions API`, {
    reason: "unsupported_feature",
    provider,
    param: "model",
  });

describe("Complete", () => {
  it("is admitted, served and settled like Chat: upstream model name, served-by headers, usage", async () => {
    const { router, calls, policy } = harness({ scripts: { p1: [{ text: " a time", usage: 9n }] } });
    const settled = policy.nextSettle();
    let headers: Headers | undefined;
    const res = await router.complete({ completion: completionRequest("m", { maxTokens: 5n, n: 2n }) }, { onHeader: (h) => (headers = h) });
    expect(res.completion?.choices[0]?.text).toBe(" a time");
    expect(res.served).toMatchObject({ provider: "p1", model: "up1", attempts: 1 });
    expect(headers?.get("x-llmmesh-served-by")).toBe("p1/up1");
    expect(calls).toMatchObject([{ provider: "p1", targetModel: "up1", chatModel: "up1" }]);
    // 2 prompt tokens plus max_tokens for each of the n alternatives.
    expect(policy.admits[0]).toMatchObject({ operation: Operation.COMPLETE, model: "m", estimatedTokens: 12n });
    expect(await settled).toMatchObject({ succeeded: true, model: "m", usage: { totalTokens: 9n }, target: { provider: "p1" } });
  });

  it("reserves a valid token estimate even for absurd max_tokens and n", async () => {
    const { router, policy } = harness();
    const huge = BigInt(Number.MAX_SAFE_INTEGER);
    await router.complete({ completion: completionRequest("m", { maxTokens: huge, n: huge }) });
    expect(policy.admits[0]?.estimatedTokens).toBe(huge);
  });

  it("retries and falls back on upstream failures like Chat", async () => {
    const down = () => upstreamError(Code.Unavailable, 503);
    const { router, calls, delays } = harness({ scripts: { p1: [down(), down(), down()] } });
    const res = await router.complete({ completion: completionRequest("m") });
    expect(res.served).toMatchObject({ provider: "p2", model: "up2", attempts: 4 });
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p1", "p1", "p2"]);
    expect(delays).toEqual([50, 100]);
  });

  it("moves on at once, without retrying, from a target that does not support completions", async () => {
    const { router, calls, delays } = harness({ scripts: { p1: [refusal("p1")] } });
    const res = await router.complete({ completion: completionRequest("m") });
    expect(res.served).toMatchObject({ provider: "p2", attempts: 2 });
    expect(calls.map((c) => c.provider)).toEqual(["p1", "p2"]);
    expect(delays).toEqual([]);
  });

  it("answers InvalidArgument naming the client's model when no target supports completions", async () => {
    const { router, calls, policy } = harness({ scripts: { p1: [refusal("p1")], p2: [refusal("p2")] } });
    const settled = policy.nextSettle();
    const err = await failure(router.complete({ completion: completionRequest("m") }));
    expect(calls).toHaveLength(2);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(`The model 'm' cannot serve this request: model "x" of provider "p1" does not support the completions API.`);
    expect(errorDetailOf(err)).toMatchObject({ reason: "unsupported_feature", param: "model", attempts: 2 });
    expect(await settled).toMatchObject({ succeeded: false });
  });

  it("reports a target that could serve but failed rather than one that cannot serve", async () => {
    const down = () => upstreamError(Code.Unavailable, 503);
    const { router } = harness({ scripts: { p1: [down(), down(), down()], p2: [refusal("p2")] } });
    const err = await failure(router.complete({ completion: completionRequest("m") }));
    expect(err.code).toBe(Code.Unavailable);
    expect(errorDetailOf(err)).toMatchObject({ upstreamStatus: 503, provider: "p1", attempts: 4 });
  });
});

describe("CompleteStream", () => {
  it("falls back past a refusing target before the first chunk, and settles the stream's usage", async () => {
    const { router, calls, policy } = harness({ scripts: { p1: [refusal("p1")], p2: [{ chunks: ["Once", " upon"], usage: 6n }] } });
    const settled = policy.nextSettle();
    const texts: Array<[string | undefined, unknown]> = [];
    for await (const m of router.completeStream({ completion: completionRequest("m") })) texts.push([m.chunk?.choices[0]?.text, m.served]);
    expect(texts).toEqual([
      ["Once", expect.objectContaining({ provider: "p2", model: "up2", attempts: 2 })],
      [" upon", undefined],
      [undefined, undefined],
    ]);
    expect(calls.map((c) => c.chatModel)).toEqual(["up1", "up2"]);
    expect(policy.admits[0]?.operation).toBe(Operation.COMPLETE);
    expect(await settled).toMatchObject({ succeeded: true, usage: { totalTokens: 6n }, target: { provider: "p2" } });
  });

  it("passes a failure after the first chunk to the client without retrying", async () => {
    const { router, calls } = harness({ scripts: { p1: [{ chunks: ["partial"], thenFail: upstreamError(Code.Unavailable, 503) }] } });
    const err = await failure(
      (async () => {
        for await (const _ of router.completeStream({ completion: completionRequest("m") }));
      })(),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(calls).toHaveLength(1);
  });

  it("answers InvalidArgument before any chunk when no target supports completions", async () => {
    const { router } = harness({ scripts: { p1: [refusal("p1")] } });
    const err = await failure(
      (async () => {
        for await (const _ of router.completeStream({ completion: completionRequest("solo") }));
      })(),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(errorDetailOf(err)?.reason).toBe("unsupported_feature");
  });
});

describe("Embed", () => {
  it("falls back like Chat and returns the vectors with where they were served", async () => {
    const { router, calls, policy } = harness({ scripts: { p1: [upstreamError(Code.ResourceExhausted, 429)] } });
    const settled = policy.nextSettle();
    const res = await router.embed({ embed: create(EmbedRequestSchema, { model: "m", input: { case: "text", value: "12345678" } }) });
    expect(res.served).toMatchObject({ provider: "p2", attempts: 2 });
    expect(res.embed?.data[0]?.vector).toEqual([0.5]);
    expect(calls.map((c) => c.chatModel)).toEqual(["up1", "up2"]);
    expect(policy.admits[0]).toMatchObject({ operation: Operation.EMBED, estimatedTokens: 2n });
    expect(await settled).toMatchObject({ succeeded: true, usage: { totalTokens: 3n } });
  });
});

describe("ListModels", () => {
  it("lists every model when the key may use all", async () => {
    const { router, policy } = harness();
    const res = await router.listModels({});
    expect(res.models.map((m) => m.id)).toEqual(["m", "solo", "quick", "listed"]);
    expect(res.models.find((m) => m.id === "listed")?.ownedBy).toBe("acme");
    expect(res.models[0]?.ownedBy).toBe("llmmesh");
    expect(policy.admits[0]?.operation).toBe(Operation.LIST_MODELS);
  });

  it("lists only the models the key may use, with a stable creation time", async () => {
    const { router } = harness({ policy: fakePolicy({ allowedModels: ["listed", "solo"] }) });
    const first = await router.listModels({});
    const second = await router.listModels({});
    expect(first.models.map((m) => m.id)).toEqual(["solo", "listed"]);
    expect(first.models[0]?.created).toBeGreaterThan(0n);
    expect(second.models.map((m) => m.created)).toEqual(first.models.map((m) => m.created));
  });
});
