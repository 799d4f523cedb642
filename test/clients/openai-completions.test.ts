/**
 * Legacy text completions (`POST /v1/completions`) through the whole mesh,
 * as the official `openai` SDK sees them: every call is made twice — once
 * through the all-in-one gateway, once straight to the mock upstream — and
 * the two answers must be equal apart from ids and clocks. Run over direct
 * in-process calls and over the full Connect protocol in memory (so every
 * message also crosses protobuf serialisation), and once over five separate
 * processes.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { OpenAI as LangChainOpenAI } from "@langchain/openai";
import { generateText, streamText } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAllInOne, startMesh } from "../support/mesh.js";
import { mockCompletionText } from "../support/mock-completions.js";
import { startMockOpenAI, type MockOpenAI } from "../support/mock-openai-upstream.js";

/** The upstream model's own name is the mesh's model name too, so answers (which name the model) compare equal. */
const MODEL = "gpt-3.5-turbo-instruct";

function configFor(upstream: MockOpenAI): string {
  return `
providers:
  - { name: up, adapter: openai, base_url: "${upstream.url}", api_key: "sk-upstream-0123456789" }
  - { name: builtin, adapter: custom, protocol: mock, options: { delay_ms: 0 } }
models:
  - name: ${MODEL}
    routing: { retries: 2, backoff_ms: 1, timeout_ms: 20000 }
    targets: [{ provider: up, model: ${MODEL} }]
  - name: chat-only
    targets: [{ provider: builtin, model: mock-1 }]
  - name: instruct-after-chat
    targets: [{ provider: builtin, model: mock-1 }, { provider: up, model: ${MODEL} }]
`;
}

/** Fields that legitimately differ between two calls: ids and clocks. */
function withoutIds<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === "id" || key === "created" ? undefined : v)) as T;
}

/** The bodies the upstream received, oldest first. */
function upstreamBodies(upstream: MockOpenAI): unknown[] {
  return upstream.requests.filter((r) => r.path === "/v1/completions").map((r) => r.body);
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const chunks: T[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const transports: Array<[string, NodeJS.ProcessEnv]> = [
  ["direct in-process calls", {}],
  ["Connect in memory", { LLMMESH_IN_PROCESS_TRANSPORT: "memory" }],
];

describe.each(transports)("openai SDK, client.completions over the all-in-one gateway (%s)", (_name, env) => {
  let upstream: MockOpenAI;
  let host: Awaited<ReturnType<typeof startAllInOne>>;
  let viaMesh: OpenAI;
  let direct: OpenAI;

  beforeAll(async () => {
    upstream = await startMockOpenAI({ apiKey: "sk-upstream-0123456789" });
    host = await startAllInOne(configFor(upstream), env);
    viaMesh = new OpenAI({ baseURL: `${host.url}/v1`, apiKey: "unused-in-open-access", maxRetries: 0 });
    direct = new OpenAI({ baseURL: upstream.url, apiKey: "sk-upstream-0123456789", maxRetries: 0 });
  });
  afterAll(async () => {
    await host?.close(1000);
    await upstream?.close();
  });
  beforeEach(() => upstream.reset());

  /** Makes the same call both ways; returns both answers and the body the upstream got each time. */
  async function both<T>(call: (client: OpenAI) => Promise<T>): Promise<{ mesh: T; straight: T; sent: unknown[] }> {
    const mesh = await call(viaMesh);
    const straight = await call(direct);
    return { mesh, straight, sent: upstreamBodies(upstream) };
  }

  it.each<[string, OpenAI.CompletionCreateParamsNonStreaming]>([
    ["a string prompt", { model: MODEL, prompt: "Once upon a time" }],
    ["a list of prompts with n", { model: MODEL, prompt: ["Roses are red", "The sky is"], n: 2 }],
    ["a token prompt", { model: MODEL, prompt: [1212, 318, 257] }],
    ["token prompts, max_tokens cutting the answer", { model: MODEL, prompt: [[1212, 318], [42]], max_tokens: 3 }],
    ["echo, suffix, logprobs, stop, seed, best_of and penalties", {
      model: MODEL, prompt: "Say this is a test", echo: true, suffix: "\n-- end", logprobs: 2, stop: ["\n\n", "END"], seed: 7, best_of: 2,
      temperature: 0.5, top_p: 0.9, presence_penalty: 0.1, frequency_penalty: -0.1, logit_bias: { "50256": -100 }, user: "user-1",
    }],
  ])("answers %s exactly as the upstream does, and sends the upstream the same body", async (_name, params) => {
    const { mesh, straight, sent } = await both((client) => client.completions.create(params));
    expect(withoutIds(mesh)).toEqual(withoutIds(straight));
    expect(mesh.object).toBe("text_completion");
    expect(mesh.usage?.total_tokens).toBeGreaterThan(0);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual(sent[1]);
  });

  it("continues the prompt with the upstream's text", async () => {
    const answer = await viaMesh.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 50 });
    expect(answer.choices).toEqual([{ text: mockCompletionText("Once upon a time", 0), index: 0, logprobs: null, finish_reason: "stop" }]);
  });

  it("passes fields it does not model through to the upstream unchanged", async () => {
    const params = { model: MODEL, prompt: "x", min_tokens: 2, guided_choice: ["a", "b"], top_k: null };
    await viaMesh.completions.create(params as OpenAI.CompletionCreateParamsNonStreaming);
    expect(upstreamBodies(upstream)).toEqual([params]);
  });

  it.each<[string, Omit<OpenAI.CompletionCreateParamsStreaming, "model">]>([
    ["a stream without usage", { prompt: "Once upon a time", stream: true }],
    ["a stream with stream_options.include_usage", { prompt: "Once upon a time", stream: true, stream_options: { include_usage: true } }],
    ["a stream of two prompts, n = 2, echo and logprobs", {
      prompt: ["Roses are red", "The sky is"], n: 2, echo: true, logprobs: 1, max_tokens: 4, stream: true, stream_options: { include_usage: true },
    }],
    ["a stream with include_usage false", { prompt: [[1, 2, 3]], stream: true, stream_options: { include_usage: false } }],
  ])("streams %s exactly as the upstream does", async (_name, params) => {
    const { mesh, straight } = await both(async (client) => collect(await client.completions.create({ model: MODEL, ...params })));
    expect(withoutIds(mesh)).toEqual(withoutIds(straight));
    expect(mesh.length).toBeGreaterThan(2);
    const wantsUsage = params.stream_options?.include_usage === true;
    expect(mesh.some((chunk) => "usage" in chunk && chunk.usage)).toBe(wantsUsage);
    if (wantsUsage) expect(mesh.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
  });

  it("always asks the upstream for usage in a stream, which the client then does not see", async () => {
    const chunks = await collect(await viaMesh.completions.create({ model: MODEL, prompt: "hi", stream: true }));
    expect(upstreamBodies(upstream)).toEqual([{ model: MODEL, prompt: "hi", stream: true, stream_options: { include_usage: true } }]);
    expect(chunks.every((chunk) => !("usage" in chunk))).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0]?.text ?? "").join("")).toBe(mockCompletionText("hi", 0));
  });

  it("sets the request id, served-by and attempts headers, plain and streamed", async () => {
    const plain = await viaMesh.completions
      .create({ model: MODEL, prompt: "x" }, { headers: { "x-request-id": "req-completions-1" } })
      .withResponse();
    expect(plain.response.headers.get("x-request-id")).toBe("req-completions-1");
    expect(plain.response.headers.get("x-llmmesh-served-by")).toBe(`up/${MODEL}`);
    expect(plain.response.headers.get("x-llmmesh-attempts")).toBe("1");

    const streamed = await viaMesh.completions.create({ model: MODEL, prompt: "x", stream: true }).withResponse();
    expect(streamed.response.headers.get("content-type")).toContain("text/event-stream");
    expect(streamed.response.headers.get("x-llmmesh-served-by")).toBe(`up/${MODEL}`);
    await collect(streamed.data);
  });

  it("retries an upstream 503 like chat", async () => {
    upstream.failNext(1, { status: 503 });
    const { data, response } = await viaMesh.completions.create({ model: MODEL, prompt: "x" }).withResponse();
    expect(data.choices[0]?.text).toBe(mockCompletionText("x", 0));
    expect(response.headers.get("x-llmmesh-attempts")).toBe("2");
  });

  it("answers 400 for a model whose provider has no completions API, plain and streamed, and calls no upstream", async () => {
    for (const stream of [false, true]) {
      const err = await viaMesh.completions.create({ model: "chat-only", prompt: "x", stream }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, type: "invalid_request_error", code: "unsupported_feature", param: "model" });
      expect((err as Error).message).toContain("The model 'chat-only' cannot serve this request");
      expect((err as Error).message).toContain("does not support the completions API");
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it("falls back from a target without completions to one with them", async () => {
    const { data, response } = await viaMesh.completions.create({ model: "instruct-after-chat", prompt: "x" }).withResponse();
    expect(data.choices[0]?.text).toBe(mockCompletionText("x", 0));
    expect(response.headers.get("x-llmmesh-served-by")).toBe(`up/${MODEL}`);
    expect(response.headers.get("x-llmmesh-attempts")).toBe("2");
  });

  it.each<[string, unknown, string | null]>([
    ["no prompt", { model: MODEL }, "prompt"],
    ["an empty prompt list", { model: MODEL, prompt: [] }, "prompt"],
    ["a prompt of objects", { model: MODEL, prompt: [{ text: "x" }] }, "prompt[0]"],
    ["n: 0", { model: MODEL, prompt: "x", n: 0 }, "n"],
    ["negative max_tokens", { model: MODEL, prompt: "x", max_tokens: -1 }, "max_tokens"],
    ["chat's boolean logprobs", { model: MODEL, prompt: "x", logprobs: true }, "logprobs"],
    ["no model", { prompt: "x" }, "model"],
  ])("refuses %s with a 400 naming the field, before any upstream call", async (_name, body, param) => {
    const res = await fetch(`${host.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", param } });
    expect(upstream.requests).toHaveLength(0);
  });

  it("answers 404 for a model that is not configured", async () => {
    const err = await viaMesh.completions.create({ model: "no-such-model", prompt: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: "model_not_found" });
  });
});

describe("openai SDK, client.completions over a mesh of separate processes", () => {
  let upstream: MockOpenAI;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  let viaMesh: OpenAI;
  let direct: OpenAI;

  beforeAll(async () => {
    upstream = await startMockOpenAI({ apiKey: "sk-upstream-0123456789" });
    mesh = await startMesh(configFor(upstream));
    viaMesh = new OpenAI({ baseURL: `${mesh.gateway.url}/v1`, apiKey: "unused-in-open-access", maxRetries: 0 });
    direct = new OpenAI({ baseURL: upstream.url, apiKey: "sk-upstream-0123456789", maxRetries: 0 });
  });
  afterAll(async () => {
    await mesh?.stop();
    await upstream?.close();
  });

  it("answers and streams exactly as the upstream does, across every process boundary", async () => {
    const params = { model: MODEL, prompt: ["Roses are red", "The sky is"], n: 2, echo: true, logprobs: 1, max_tokens: 4 };
    expect(withoutIds(await viaMesh.completions.create(params))).toEqual(withoutIds(await direct.completions.create(params)));
    const streamed = { ...params, stream: true as const, stream_options: { include_usage: true } };
    const mine = await collect(await viaMesh.completions.create(streamed));
    expect(withoutIds(mine)).toEqual(withoutIds(await collect(await direct.completions.create(streamed))));
  });

  it("answers 400 for a model whose provider has no completions API", async () => {
    const err = await viaMesh.completions.create({ model: "chat-only", prompt: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: "unsupported_feature", param: "model" });
  });
});

/** Other real clients that speak /v1/completions: LangChain's `OpenAI` LLM and the AI SDK's completion model. */
describe("other clients of /v1/completions over the all-in-one gateway", () => {
  let upstream: MockOpenAI;
  let host: Awaited<ReturnType<typeof startAllInOne>>;

  beforeAll(async () => {
    upstream = await startMockOpenAI({ apiKey: "sk-upstream-0123456789" });
    host = await startAllInOne(configFor(upstream));
  });
  afterAll(async () => {
    await host?.close(1000);
    await upstream?.close();
  });

  /** The same client, once through the mesh and once straight to the upstream. */
  const bases = () => ({ mesh: { baseURL: `${host.url}/v1`, apiKey: "unused-in-open-access" }, straight: { baseURL: upstream.url, apiKey: "sk-upstream-0123456789" } });

  it("@langchain/openai OpenAI: invoke and stream give what they give against the upstream", async () => {
    const llm = (where: { baseURL: string; apiKey: string }) =>
      new LangChainOpenAI({ model: MODEL, apiKey: where.apiKey, maxTokens: 6, maxRetries: 0, configuration: { baseURL: where.baseURL } });
    const { mesh, straight } = bases();
    const answer = await llm(mesh).invoke("Once upon a time");
    expect(answer).toBe(await llm(straight).invoke("Once upon a time"));
    // maxTokens 6: the mock's first six words.
    expect(answer).toBe(" and the mock went on about");
    const streamed = (await collect(await llm(mesh).stream("Once upon a time"))).join("");
    expect(streamed).toBe((await collect(await llm(straight).stream("Once upon a time"))).join(""));
    expect(streamed).toBe(answer);
  });

  it("ai + @ai-sdk/openai completion model: generateText and streamText give what they give against the upstream", async () => {
    const model = (where: { baseURL: string; apiKey: string }) => createOpenAI(where).completion(MODEL);
    const { mesh, straight } = bases();
    const generated = await generateText({ model: model(mesh), prompt: "Once upon a time", maxRetries: 0 });
    const expected = await generateText({ model: model(straight), prompt: "Once upon a time", maxRetries: 0 });
    expect([generated.text, generated.finishReason, generated.usage.totalTokens]).toEqual([expected.text, expected.finishReason, expected.usage.totalTokens]);
    expect(generated.text).toContain("the mock went on about");
    const streamed = streamText({ model: model(mesh), prompt: "Once upon a time", maxRetries: 0 });
    expect((await collect(streamed.textStream)).join("")).toBe(expected.text);
    expect((await streamed.usage).totalTokens).toBe(expected.usage.totalTokens);
  });
});
