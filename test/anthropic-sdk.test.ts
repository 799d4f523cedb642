/**
 * The official `@anthropic-ai/sdk`, unchanged but for its base URL, against
 * the mesh in both deployments (all-in-one, and five processes over real
 * gRPC) whose only upstream is the mock OpenAI server: every Messages
 * request is translated to Chat Completions on the way in and back on the
 * way out. Each test checks both ends — what the SDK returns and what the
 * upstream received.
 */
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { SseParser } from "@llmmesh/openai-wire";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS, type Deployment } from "./support/mesh.js";
import { mockReplyText, mockTokenCount, startMockOpenAI, type MockOpenAI } from "./support/mock-openai-upstream.js";

const TEAM_KEY = "sk-anthropic-e2e-team-0123456789";
const UPSTREAM_KEY = "sk-anthropic-e2e-upstream-42";
const ENV = { ANTHROPIC_E2E_TEAM_KEY: TEAM_KEY, ANTHROPIC_E2E_UPSTREAM_KEY: UPSTREAM_KEY };
const MODEL = "claude-e2e";

function config(upstream: MockOpenAI): string {
  return `
providers:
  - { name: primary, adapter: openai, base_url: "${upstream.url}", api_key: "\${ANTHROPIC_E2E_UPSTREAM_KEY}" }
models:
  - name: ${MODEL}
    routing: { retries: 0, backoff_ms: 1, timeout_ms: 20000 }
    targets: [{ provider: primary, model: gpt-4o-mini }]
keys:
  - { id: team-a, key: "\${ANTHROPIC_E2E_TEAM_KEY}", models: [${MODEL}] }
server:
  body_limit_bytes: 65536
`;
}

const WEATHER: Anthropic.Tool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
};

/** The body of the upstream's `index`-th request. */
function upstreamBody(upstream: MockOpenAI, index = 0): Record<string, unknown> {
  const request = upstream.requests[index];
  if (request === undefined) throw new Error(`the upstream received no request #${index}`);
  return request.body as Record<string, unknown>;
}

describe.each(DEPLOYMENTS)("@anthropic-ai/sdk against /v1/messages (%s)", (_mode, start) => {
  let upstream: MockOpenAI;
  let mesh: Deployment;
  let client: Anthropic;

  beforeAll(async () => {
    upstream = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
    mesh = await start(config(upstream), ENV);
    client = new Anthropic({ baseURL: mesh.url, apiKey: TEAM_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await mesh?.stop();
    await upstream?.close();
  });
  afterEach(() => upstream.reset());

  it("creates a message with a system prompt and stop sequences", async () => {
    const { data, response } = await client.messages
      .create({
        model: MODEL,
        max_tokens: 200,
        system: "You are terse.",
        stop_sequences: ["END"],
        messages: [{ role: "user", content: "Hello mesh" }],
      })
      .withResponse();
    expect(data).toMatchObject({
      type: "message",
      role: "assistant",
      model: "gpt-4o-mini",
      content: [{ type: "text", text: mockReplyText("Hello mesh") }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: mockTokenCount("You are terse.") + mockTokenCount("Hello mesh"),
        output_tokens: mockTokenCount(mockReplyText("Hello mesh")),
        cache_read_input_tokens: 0,
      },
    });
    expect(data.id).toMatch(/^msg_/);
    expect(response.headers.get("x-llmmesh-served-by")).toBe("primary/gpt-4o-mini");

    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(upstreamBody(upstream)).toMatchObject({
      model: "gpt-4o-mini",
      max_tokens: 200,
      stop: ["END"],
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hello mesh" },
      ],
    });
  });

  it("reports max_tokens when the answer is cut", async () => {
    const message = await client.messages.create({ model: MODEL, max_tokens: 2, messages: [{ role: "user", content: "a long question here" }] });
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.content).toEqual([{ type: "text", text: "You said:" }]);
    expect(upstreamBody(upstream).max_tokens).toBe(2);
  });

  it("sends an image block to the upstream as a data URL", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
            { type: "text", text: "Describe this" },
          ],
        },
      ],
    });
    expect(message.content).toEqual([{ type: "text", text: mockReplyText("Describe this") }]);
    expect(upstreamBody(upstream).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
          { type: "text", text: "Describe this" },
        ],
      },
    ]);
  });

  it("calls a tool, then answers a tool_result turn", async () => {
    const question: Anthropic.MessageParam = { role: "user", content: "Paris" };
    const first = await client.messages.create({ model: MODEL, max_tokens: 100, tools: [WEATHER], messages: [question] });
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toHaveLength(1);
    const call = first.content[0] as Anthropic.ToolUseBlock;
    expect(call).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris", days: 42 } });
    expect(upstreamBody(upstream, 0).tools).toEqual([
      { type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: WEATHER.input_schema } },
    ]);

    const second = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      tools: [WEATHER],
      tool_choice: { type: "none" },
      messages: [
        question,
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18C and sunny" }] },
      ],
    });
    expect(second).toMatchObject({ stop_reason: "end_turn", content: [{ type: "text", text: mockReplyText("Paris") }] });
    expect(upstreamBody(upstream, 1)).toMatchObject({
      tool_choice: "none",
      messages: [
        { role: "user", content: "Paris" },
        {
          role: "assistant",
          tool_calls: [{ id: call.id, type: "function", function: { name: "get_weather", arguments: JSON.stringify(call.input) } }],
        },
        { role: "tool", tool_call_id: call.id, content: "18C and sunny" },
      ],
    });
  });

  it("streams tool use: the SDK's final message and the raw event sequence", async () => {
    const params = {
      model: MODEL,
      max_tokens: 100,
      tools: [WEATHER],
      tool_choice: { type: "tool" as const, name: "get_weather", disable_parallel_tool_use: true },
      messages: [{ role: "user" as const, content: "Oslo" }],
    };
    const stream = client.messages.stream(params);
    const seen: string[] = [];
    stream.on("streamEvent", (event) => seen.push(event.type));
    const message = await stream.finalMessage();
    expect(message).toMatchObject({
      role: "assistant",
      stop_reason: "tool_use",
      content: [{ type: "tool_use", name: "get_weather", input: { city: "Oslo", days: 42 } }],
    });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message.usage.input_tokens).toBe(mockTokenCount("Oslo"));
    expect(upstreamBody(upstream)).toMatchObject({
      stream: true,
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
    });

    // The same request on the wire: every event named by its type, in Anthropic's order.
    const res = await fetch(`${mesh.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEAM_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const parser = new SseParser();
    const events = [...parser.push(new Uint8Array(await res.arrayBuffer())), ...parser.end()];
    const types = events.map((e) => (JSON.parse(e.data) as { type: string }).type);
    expect(events.map((e) => e.event)).toEqual(types);
    const fragments = types.filter((t) => t === "content_block_delta").length;
    expect(fragments).toBeGreaterThan(1);
    expect(types).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      ...Array<string>(fragments).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    // The SDK saw the same sequence, less the pings it drops.
    expect(seen).toEqual(types.filter((t) => t !== "ping"));
    const json = events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
    expect(json[1]).toMatchObject({ index: 0, content_block: { type: "tool_use", name: "get_weather", input: {} } });
    const partial = json.filter((e) => e.type === "content_block_delta").map((e) => (e.delta as { partial_json: string }).partial_json);
    expect(JSON.parse(partial.join(""))).toEqual({ city: "Oslo", days: 42 });
    expect(json.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 1 } });
  });

  it("streams text, and ends a stream that fails midway with an error event", async () => {
    const text = await client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "stream this please" }] }).finalText();
    expect(text).toBe(mockReplyText("stream this please"));

    upstream.scriptNext({ kind: "stream-error", afterChunks: 2 });
    const failed = client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "break later" }] });
    const err = await failed.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).error).toMatchObject({ type: "error", error: { type: "api_error" } });
  });

  it("counts tokens locally, without calling the upstream", async () => {
    const { input_tokens } = await client.messages.countTokens({
      model: MODEL,
      system: "Be kind.",
      messages: [{ role: "user", content: "How many tokens is this?" }],
    });
    // ~4 characters a token plus 3 per message (see estimateInputTokens).
    expect(input_tokens).toBe(3 + Math.ceil("Be kind.".length / 4) + 3 + Math.ceil("How many tokens is this?".length / 4));
    expect(upstream.requests).toHaveLength(0);
  });

  describe("errors, as the SDK's error classes", () => {
    it("a bad key is an AuthenticationError", async () => {
      const stranger = new Anthropic({ baseURL: mesh.url, apiKey: "sk-not-a-team-key-0000", maxRetries: 0 });
      const err = await stranger.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(err).toMatchObject({ status: 401, type: "authentication_error" });
      expect((err as APIError).message).not.toContain("sk-not-a-team-key-0000");
      const counted = await stranger.messages.countTokens({ model: MODEL, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(counted).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(upstream.requests).toHaveLength(0);
    });

    it("an unknown model is a NotFoundError", async () => {
      const err = await client.messages.create({ model: "claude-nope", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect(err).toMatchObject({ status: 404, type: "not_found_error" });
      const counted = await client.messages.countTokens({ model: "claude-nope", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(counted).toBeInstanceOf(Anthropic.NotFoundError);
      expect(upstream.requests).toHaveLength(0);
    });

    it("an invalid request is a BadRequestError naming the field, in Anthropic's envelope", async () => {
      const err = await client.messages.create({ model: MODEL, max_tokens: -1, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      const apiError = err as APIError;
      expect(apiError.error).toEqual({
        type: "error",
        error: { type: "invalid_request_error", message: "Invalid 'max_tokens': expected an integer >= 1, got -1." },
        request_id: expect.any(String) as string,
      });
      const unpaired = await client.messages
        .create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "?" }] }] })
        .catch((e: unknown) => e);
      expect(unpaired).toBeInstanceOf(Anthropic.BadRequestError);
      expect((unpaired as APIError).message).toContain("messages[0].content[0].tool_use_id");
      expect(upstream.requests).toHaveLength(0);
    });

    it("an upstream rate limit is a RateLimitError with Retry-After, and the SDK's retry then succeeds", async () => {
      upstream.failNext(1, { status: 429, headers: { "retry-after": "1" } });
      const err = await client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      expect(err).toMatchObject({ status: 429, type: "rate_limit_error" });
      expect((err as APIError).headers?.get("retry-after")).toBe("1");
      expect((err as APIError).headers?.get("retry-after-ms")).toBe("1000");

      upstream.reset();
      upstream.failNext(1, { status: 429, headers: { "retry-after": "1" } });
      const retrying = new Anthropic({ baseURL: mesh.url, apiKey: TEAM_KEY, maxRetries: 1 });
      const message = await retrying.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: "user", content: "again" }] });
      expect(message.content).toEqual([{ type: "text", text: mockReplyText("again") }]);
      expect(upstream.requests).toHaveLength(2);
    });
  });

  describe("the request id, in Anthropic's request-id header as well as x-request-id", () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

    it("is the SDK's _request_id on answers, streams and token counts: the client's own id echoed, else a fresh one", async () => {
      const echoed = await client.messages.create(
        { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-request-id": "trace-anthropic-42" } },
      );
      expect(echoed._request_id).toBe("trace-anthropic-42");

      const fresh = await client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }).withResponse();
      expect(fresh.request_id).toMatch(UUID);
      expect(fresh.request_id).toBe(fresh.response.headers.get("x-request-id"));

      const stream = client.messages.stream({ model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "trace-stream-7" } });
      await stream.finalMessage();
      expect(stream.request_id).toBe("trace-stream-7");

      const counted = await client.messages.countTokens({ model: MODEL, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "trace-count-1" } });
      expect(counted._request_id).toBe("trace-count-1");
    });

    it("is the SDK's err.requestID on every error, the same id as the envelope's request_id", async () => {
      const stranger = new Anthropic({ baseURL: mesh.url, apiKey: "sk-not-a-team-key-0000", maxRetries: 0 });
      const failures = [
        stranger.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
        client.messages.create({ model: "claude-nope", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
        client.messages.create({ model: MODEL, max_tokens: -1, messages: [{ role: "user", content: "x" }] }),
        client.messages.countTokens({ model: "claude-nope", messages: [{ role: "user", content: "x" }] }),
        // Paths nothing routes: under /v1/messages they answer in Anthropic's envelope too.
        client.get("/v1/messages"),
        client.post("/v1/messages/nowhere", { body: {}, headers: { "x-request-id": "trace-bad-1" } }),
      ];
      const errors = await Promise.all(failures.map((p) => p.then(() => undefined, (e: unknown) => e as APIError)));
      expect(errors.map((e) => e?.status)).toEqual([401, 404, 400, 404, 405, 404]);
      for (const err of errors) {
        expect(err).toBeInstanceOf(APIError);
        expect(err?.requestID).toEqual(expect.any(String));
        expect(err?.requestID).toBe((err?.error as { request_id: string }).request_id);
        expect(err?.requestID).toBe(err?.headers?.get("x-request-id"));
      }
      expect(errors.at(-1)?.requestID).toBe("trace-bad-1");
      expect(upstream.requests).toHaveLength(0);
    });

    it("is not sent under that name on OpenAI's routes, whose SDKs read x-request-id", async () => {
      const res = await fetch(`${mesh.url}/v1/models`, { headers: { authorization: `Bearer ${TEAM_KEY}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toMatch(UUID);
      expect(res.headers.get("request-id")).toBeNull();
    });
  });

  describe("headers", () => {
    const post = (headers: Record<string, string>, body: unknown = { model: MODEL, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }) =>
      fetch(`${mesh.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

    it("takes the key from x-api-key", async () => {
      const res = await post({ "x-api-key": TEAM_KEY, "anthropic-version": "2023-06-01" });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { content: unknown }).content).toEqual([{ type: "text", text: mockReplyText("hi") }]);
    });

    it("requires a known anthropic-version", async () => {
      for (const version of [undefined, "2023-01-01"]) {
        const res = await post({ "x-api-key": TEAM_KEY, ...(version ? { "anthropic-version": version } : {}) });
        expect(res.status).toBe(400);
        const body = (await res.json()) as { type: string; error: { type: string; message: string } };
        expect(body).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
        expect(body.error.message).toMatch(/^anthropic-version: /);
      }
      expect(upstream.requests).toHaveLength(0);
    });

    it("answers malformed JSON, oversized bodies and unknown paths in Anthropic's envelope", async () => {
      const headers = { "content-type": "application/json", "x-api-key": TEAM_KEY, "anthropic-version": "2023-06-01" };
      const bad = await fetch(`${mesh.url}/v1/messages`, { method: "POST", headers, body: "{not json" });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
      const big = await fetch(`${mesh.url}/v1/messages`, { method: "POST", headers, body: JSON.stringify({ pad: "x".repeat(70_000) }) });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
      const unknown = await fetch(`${mesh.url}/v1/messages/batches`, { method: "POST", headers, body: "{}" });
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
      expect(upstream.requests).toHaveLength(0);
    });
  });
});
