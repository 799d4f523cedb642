/**
 * The official `openai` SDK against the all-in-one gateway, compared with the
 * same SDK talking to the mock OpenAI upstream directly: chat, streaming with
 * tools (through the SDK's own stream helper), embeddings, models by key,
 * every error status as the SDK's error classes see it, and its retries.
 * (test/e2e.test.ts covers plain chat and streams in both deployments.)
 */
import OpenAI from "openai";
import type { ChatCompletionStreamParams } from "openai/lib/ChatCompletionStream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, EMBED_MODEL, KEYS, NATIVE_MODEL, startMatrix, UPSTREAM_KEY, withoutIds, type Matrix } from "../support/openai-matrix.js";

let matrix: Matrix;
let client: OpenAI;
let direct: OpenAI;
beforeAll(async () => {
  matrix = await startMatrix();
  client = new OpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.all, maxRetries: 0 });
  direct = new OpenAI({ baseURL: matrix.upstream.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
});
afterAll(() => matrix?.close());
afterEach(() => matrix.upstream.reset());

const WEATHER_TOOL: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
};

describe("chat", () => {
  it("answers as the upstream does, with n, stop, seed, logprobs and json_object", async () => {
    const request: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = {
      model: CHAT_MODEL,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Name two colours" }] },
      ],
      n: 2,
      stop: ["END"],
      seed: 1,
      logprobs: true,
      top_logprobs: 1,
      response_format: { type: "json_object" },
      max_completion_tokens: 50,
    };
    const { data, response, request_id } = await client.chat.completions.create(request).withResponse();
    expect(withoutIds(data)).toEqual(withoutIds(await direct.chat.completions.create(request)));
    expect(data.choices).toHaveLength(2);
    expect(response.headers.get("x-llmmesh-served-by")).toBe(`upstream/${CHAT_MODEL}`);
    expect(request_id).toBe(response.headers.get("x-request-id"));
  });

  it("streams tool calls that the SDK's stream helper reassembles as it does from the upstream", async () => {
    const request: ChatCompletionStreamParams = {
      model: CHAT_MODEL,
      messages: [{ role: "user", content: "Weather in Lima?" }],
      tools: [WEATHER_TOOL],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      stream_options: { include_usage: true },
    };
    const viaMesh = client.chat.completions.stream(request);
    const fragments: string[] = [];
    viaMesh.on("tool_calls.function.arguments.delta", (event) => fragments.push(event.arguments_delta));
    const final = await viaMesh.finalChatCompletion();
    const straight = await direct.chat.completions.stream(request).finalChatCompletion();
    expect(withoutIds(final)).toEqual(withoutIds(straight));
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("get_weather");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ city: "Weather in Lima?", days: 42 });
    expect(fragments.length).toBeGreaterThan(1);
    expect(final.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("streams from the native provider too", async () => {
    const stream = await client.chat.completions.create({ model: NATIVE_MODEL, messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Mock reply to: hi");
  });

  it("throws the upstream's error from a stream that fails mid-way", async () => {
    matrix.upstream.scriptNext({ kind: "stream-error", afterChunks: 2, error: { message: "The model crashed.", type: "server_error", param: null, code: null } });
    const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: "user", content: "a long tale" }], stream: true });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain("The model crashed.");
    expect(seen).toHaveLength(2);
  });
});

describe("embeddings", () => {
  it.each<[string, OpenAI.Embeddings.EmbeddingCreateParams]>([
    ["a string (the SDK asks for base64 and decodes it)", { model: EMBED_MODEL, input: "hello world" }],
    ["strings as floats", { model: EMBED_MODEL, input: ["a", "b"], encoding_format: "float" }],
    ["token arrays with dimensions", { model: EMBED_MODEL, input: [[1, 2, 3], [4]], dimensions: 4 }],
    ["base64 kept as a string", { model: EMBED_MODEL, input: [5, 6], encoding_format: "base64" }],
  ])("%s", async (_name, params) => {
    const viaMesh = await client.embeddings.create(params);
    expect(viaMesh).toEqual(await direct.embeddings.create(params));
    expect(viaMesh.data.length).toBeGreaterThan(0);
  });
});

describe("models", () => {
  it("lists only the models the caller's key may use", async () => {
    const all = await client.models.list();
    expect(all.data.map((m) => m.id)).toEqual([CHAT_MODEL, EMBED_MODEL, NATIVE_MODEL]);
    const limited = new OpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.limited, maxRetries: 0 });
    const some = await limited.models.list();
    expect(some.data.map((m) => m.id)).toEqual([CHAT_MODEL]);
    expect(some.data[0]).toMatchObject({ object: "model", owned_by: expect.any(String), created: expect.any(Number) });
  });

  it("retrieves a model the key may use, and answers 404 for one it may not", async () => {
    const limited = new OpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.limited, maxRetries: 0 });
    expect(await limited.models.retrieve(CHAT_MODEL)).toMatchObject({ id: CHAT_MODEL, object: "model" });
    expect(await client.models.retrieve(NATIVE_MODEL)).toMatchObject({ id: NATIVE_MODEL, object: "model" });
    const hidden = await limited.models.retrieve(NATIVE_MODEL).catch((e: unknown) => e);
    expect(hidden).toBeInstanceOf(OpenAI.NotFoundError);
    expect(hidden).toMatchObject({ status: 404, code: "model_not_found" });
  });
});

describe("errors, as the SDK's classes see them", () => {
  type ApiError = InstanceType<typeof OpenAI.APIError>;
  type ErrorClass = new (...args: never[]) => ApiError;
  const chat = (c: OpenAI = client, model: string = CHAT_MODEL, content = "x") =>
    c.chat.completions.create({ model, messages: [{ role: "user", content }] }).catch((e: unknown) => e);

  // Upstream statuses: the client's own mistakes pass through; the provider refusing the
  // mesh's own key or model is the gateway's problem (502); 5xx statuses pass through.
  it.each<[number, ErrorClass, number]>([
    [400, OpenAI.BadRequestError, 400],
    [401, OpenAI.InternalServerError, 502],
    [403, OpenAI.InternalServerError, 502],
    [404, OpenAI.InternalServerError, 502],
    [409, OpenAI.ConflictError, 409],
    [413, OpenAI.APIError, 413],
    [422, OpenAI.UnprocessableEntityError, 422],
    [429, OpenAI.RateLimitError, 429],
    [500, OpenAI.InternalServerError, 500],
    [502, OpenAI.InternalServerError, 502],
    [503, OpenAI.InternalServerError, 503],
    [504, OpenAI.InternalServerError, 504],
  ])("upstream %i → %o with status %i", async (upstreamStatus, ErrorClass, status) => {
    matrix.upstream.failNext(1, { status: upstreamStatus, headers: { "retry-after": "7" } });
    const err = await chat();
    expect(err).toBeInstanceOf(ErrorClass);
    const apiError = err as ApiError;
    expect(apiError.status).toBe(status);
    expect(apiError.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
    expect(apiError.headers?.get("x-request-id")).toBe(apiError.requestID);
    if (status === 429) expect(apiError.headers?.get("retry-after")).toBe("7");
    expect(matrix.upstream.requests).toHaveLength(1);
  });

  it("answers the gateway's own refusals: 401, 403, 404 and 413", async () => {
    const stranger = new OpenAI({ baseURL: matrix.baseURL, apiKey: "sk-nobody-0000000000", maxRetries: 0 });
    expect(await chat(stranger)).toBeInstanceOf(OpenAI.AuthenticationError);
    const limited = new OpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.limited, maxRetries: 0 });
    expect(await chat(limited, NATIVE_MODEL)).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await chat(client, "no-such-model")).toBeInstanceOf(OpenAI.NotFoundError);
    const tooLarge = await chat(client, CHAT_MODEL, "x".repeat(300_000));
    expect(tooLarge).toMatchObject({ status: 413, code: "request_too_large" });
    expect(matrix.upstream.requests).toHaveLength(0);
  });

  describe("retries", () => {
    const retrying = () => new OpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.all, maxRetries: 2 });

    it.each([429, 500, 503])("retries an upstream %i (waiting what Retry-After says) and succeeds", async (status) => {
      matrix.upstream.failNext(1, { status, headers: { "retry-after-ms": "5" } });
      const answer = await retrying().chat.completions.create({ model: CHAT_MODEL, messages: [{ role: "user", content: "again" }] });
      expect(answer.choices[0]?.message.content).toBe("You said: again");
      expect(matrix.upstream.requests).toHaveLength(2);
    });

    it.each([400, 422])("does not retry an upstream %i", async (status) => {
      matrix.upstream.failNext(1, { status, headers: { "retry-after-ms": "5" } });
      const err = await retrying().chat.completions.create({ model: CHAT_MODEL, messages: [{ role: "user", content: "once" }] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status });
      expect(matrix.upstream.requests).toHaveLength(1);
    });
  });
});
