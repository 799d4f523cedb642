import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { ChatChunkSchema, type EmbedRequest } from "@llmmesh/proto";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chatResponse, contentChunk, SERVED, startTestGateway, usageChunk, type TestGateway } from "./test-harness.js";

/** What the official SDK sees, end to end through the gateway. */
describe("gateway through the official openai SDK", () => {
  let gw: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gw = await startTestGateway();
    client = new OpenAI({ baseURL: `${gw.origin}/v1`, apiKey: "test", maxRetries: 0 });
  });
  afterAll(() => gw.close());
  afterEach(() => {
    gw.reset();
  });

  const MESSAGES = [{ role: "user" as const, content: "Say hello" }];

  describe("models", () => {
    const models = [
      { id: "chat-default", created: 1_700_000_000n, ownedBy: "llmmesh" },
      { id: "acme/qwen2.5:7b", created: 1_700_000_001n, ownedBy: "acme" },
    ];

    it("lists the caller's models", async () => {
      gw.fake.listModels = () => ({ models });
      const page = await client.models.list();
      expect(page.data).toEqual([
        { id: "chat-default", object: "model", created: 1_700_000_000, owned_by: "llmmesh" },
        { id: "acme/qwen2.5:7b", object: "model", created: 1_700_000_001, owned_by: "acme" },
      ]);
    });

    it("retrieves a model whose id holds '/' and ':'", async () => {
      gw.fake.listModels = () => ({ models });
      const model = await client.models.retrieve("acme/qwen2.5:7b");
      expect(model).toEqual({ id: "acme/qwen2.5:7b", object: "model", created: 1_700_000_001, owned_by: "acme" });
      // Also when a client does not percent-encode the slash.
      const res = await fetch(`${gw.origin}/v1/models/acme/qwen2.5:7b`);
      expect(((await res.json()) as { id: string }).id).toBe("acme/qwen2.5:7b");
    });

    it("answers a model outside the caller's list with 404 model_not_found", async () => {
      gw.fake.listModels = () => ({ models });
      const err = await client.models.retrieve("gpt-secret").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err).toMatchObject({ status: 404, code: "model_not_found", type: "invalid_request_error", param: "model" });
    });
  });

  describe("chat completions", () => {
    it("returns a complete answer", async () => {
      let sent: string | undefined;
      gw.fake.chat = (req) => {
        sent = req.chat?.model;
        return { chat: chatResponse("Hello!"), served: SERVED };
      };
      const { data, response } = await client.chat.completions.create({ model: "chat-default", messages: MESSAGES }).withResponse();
      expect(sent).toBe("chat-default");
      expect(data.choices[0]?.message).toMatchObject({ role: "assistant", content: "Hello!" });
      expect(data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
      expect(response.headers.get("x-llmmesh-served-by")).toBe("mock/gpt-test");
    });

    it("streams deltas, without usage unless asked", async () => {
      gw.fake.chatStream = async function* () {
        yield { chunk: contentChunk("Hel", { role: "assistant" }), served: SERVED };
        yield { chunk: contentChunk("lo!", { finishReason: "stop" }) };
        yield { chunk: usageChunk() };
      };
      const stream = await client.chat.completions.create({ model: "chat-default", messages: MESSAGES, stream: true });
      let text = "";
      for await (const chunk of stream) {
        expect(chunk.usage).toBeUndefined();
        text += chunk.choices[0]?.delta.content ?? "";
      }
      expect(text).toBe("Hello!");
    });

    it("streams the usage chunk when stream_options.include_usage is set", async () => {
      gw.fake.chatStream = async function* () {
        yield { chunk: contentChunk("Hi", { role: "assistant", finishReason: "stop" }), served: SERVED };
        yield { chunk: usageChunk() };
      };
      const stream = await client.chat.completions.create({
        model: "chat-default",
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    });

    it("streams tool-call fragments that the SDK assembles into one call", async () => {
      const toolChunk = (call: { id?: string; type?: string; name?: string; arguments?: string }, finishReason?: string, role?: string) =>
        create(ChatChunkSchema, {
          id: "chatcmpl-tools",
          created: 1_700_000_000n,
          model: "gpt-test",
          choices: [{ index: 0n, delta: { role, toolCalls: [{ index: 0n, ...call }] }, finishReason }],
        });
      gw.fake.chatStream = async function* () {
        yield { chunk: toolChunk({ id: "call_1", type: "function", name: "get_weather", arguments: "" }, undefined, "assistant"), served: SERVED };
        yield { chunk: toolChunk({ arguments: '{"city":' }) };
        yield { chunk: toolChunk({ arguments: '"Paris"}' }, "tool_calls") };
      };
      const runner = client.chat.completions.stream({
        model: "chat-default",
        messages: MESSAGES,
        tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
      });
      const done = await runner.finalChatCompletion();
      expect(done.choices[0]?.finish_reason).toBe("tool_calls");
      expect(done.choices[0]?.message.tool_calls).toEqual([
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      ]);
    });

    it("surfaces a mid-stream failure as an APIError while iterating", async () => {
      gw.fake.chatStream = async function* () {
        yield { chunk: contentChunk("par", { role: "assistant" }), served: SERVED };
        throw meshError(Code.DeadlineExceeded, "upstream stalled", { reason: Reason.UpstreamTimeout });
      };
      const stream = await client.chat.completions.create({ model: "chat-default", messages: MESSAGES, stream: true });
      const seen: string[] = [];
      const failure = await (async () => {
        for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
      })().catch((e: unknown) => e);
      expect(seen).toEqual(["par"]);
      expect(failure).toBeInstanceOf(OpenAI.APIError);
      expect(failure).toMatchObject({ message: "upstream stalled", code: "upstream_timeout", type: "api_error" });
    });
  });

  describe("embeddings", () => {
    it("returns vectors, through the SDK's default base64 encoding", async () => {
      let request: EmbedRequest | undefined;
      const vector = [0.25, -0.5, 1];
      gw.fake.embed = (req) => {
        request = req.embed;
        // The SDK asks for base64 (little-endian float32) unless told otherwise, and decodes it.
        const base64 = Buffer.from(new Float32Array(vector).buffer).toString("base64");
        return {
          embed: { model: "embed-test", data: [{ index: 0n, base64 }], usage: { promptTokens: 2n, totalTokens: 2n } },
          served: SERVED,
        };
      };
      const res = await client.embeddings.create({ model: "embed-default", input: "hello world" });
      expect(request).toMatchObject({ model: "embed-default", encodingFormat: "base64", input: { case: "text", value: "hello world" } });
      expect(res.data[0]?.embedding).toEqual(vector);
      expect(res.usage).toMatchObject({ prompt_tokens: 2, total_tokens: 2 });
    });

    it("returns float vectors when asked for them", async () => {
      gw.fake.embed = () => ({ embed: { model: "embed-test", data: [{ index: 0n, vector: [0.1, 0.2] }] } });
      const res = await client.embeddings.create({ model: "embed-default", input: ["a"], encoding_format: "float" });
      expect(res.data[0]?.embedding).toEqual([0.1, 0.2]);
    });
  });

  describe("errors, as the SDK's error classes see them", () => {
    it.each([
      [meshError(Code.Unauthenticated, "Incorrect API key provided", { reason: Reason.InvalidApiKey }), OpenAI.AuthenticationError, 401, "authentication_error", "invalid_api_key"],
      [meshError(Code.PermissionDenied, "Model not allowed for this key", { reason: Reason.ModelNotAllowed }), OpenAI.PermissionDeniedError, 403, "permission_error", "model_not_allowed"],
      [meshError(Code.NotFound, "The model 'nope' does not exist", { reason: Reason.ModelNotFound, param: "model" }), OpenAI.NotFoundError, 404, "invalid_request_error", "model_not_found"],
      [meshError(Code.ResourceExhausted, "Rate limit exceeded", { reason: Reason.RateLimited, retryAfterMs: 1200n }), OpenAI.RateLimitError, 429, "rate_limit_error", "rate_limit_exceeded"],
      [meshError(Code.Internal, "Upstream answered 500", { reason: Reason.UpstreamError, upstreamStatus: 500 }), OpenAI.InternalServerError, 500, "api_error", "upstream_error"],
      [meshError(Code.DeadlineExceeded, "Upstream timed out", { reason: Reason.UpstreamTimeout }), OpenAI.InternalServerError, 504, "api_error", "upstream_timeout"],
    ])("%#: maps to the right class and status", async (thrown, ErrorClass, status, type, code) => {
      gw.fake.chat = () => {
        throw thrown;
      };
      const err = await client.chat.completions.create({ model: "chat-default", messages: MESSAGES }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrorClass);
      expect(err).toMatchObject({ status, type, code, message: `${status} ${thrown.rawMessage}` });
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toEqual({
        message: thrown.rawMessage,
        type,
        param: status === 404 ? "model" : null,
        code,
      });
    });

    it("sends Retry-After with a rate limit", async () => {
      gw.fake.chat = () => {
        throw meshError(Code.ResourceExhausted, "Rate limit exceeded", { reason: Reason.RateLimited, retryAfterMs: 1200n });
      };
      const err = await client.chat.completions.create({ model: "chat-default", messages: MESSAGES }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const headers = (err as InstanceType<typeof OpenAI.RateLimitError>).headers;
      expect(headers.get("retry-after")).toBe("2");
      expect(headers.get("retry-after-ms")).toBe("1200");
    });

    it("reports a validation failure as BadRequestError with its param", async () => {
      const err = await client.chat.completions
        .create({ model: "chat-default", messages: [{ role: "user", content: "x" }], temperature: "hot" as unknown as number })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "temperature" });
    });

    it("reports an oversized body as 413", async () => {
      const err = await client.chat.completions
        .create({ model: "chat-default", messages: [{ role: "user", content: "x".repeat(5000) }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ status: 413, code: "request_too_large" });
    });
  });
});
