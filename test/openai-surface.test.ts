/**
 * The OpenAI surface as raw JSON over HTTP, end to end through the
 * all-in-one gateway: every request field reaches an OpenAI upstream
 * unchanged (unknown fields at every level too), answers and stream chunks
 * come back as the upstream sent them, the native mock provider translates
 * or refuses (400 naming the field) what it cannot express, and the
 * response headers say who served the request and what the mesh added.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, EMBED_MODEL, KEYS, NATIVE_MODEL, startMatrix, UPSTREAM_KEY, withoutIds, type Matrix } from "./support/openai-matrix.js";

type Json = Record<string, unknown>;

let matrix: Matrix;
beforeAll(async () => {
  matrix = await startMatrix();
});
afterAll(() => matrix?.close());
afterEach(() => matrix.upstream.reset());

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${matrix.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEYS.all}`, ...headers },
    body: JSON.stringify(body),
  });
}

/** The same request straight to the mock upstream, for comparison. */
function postDirect(path: string, body: unknown): Promise<Response> {
  return fetch(`${matrix.upstream.url}${path.replace(/^\/v1/, "")}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${UPSTREAM_KEY}` },
    body: JSON.stringify(body),
  });
}

/** The `data:` payloads of an SSE response, in order. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((event) => event.trim() !== "")
    .map((event) => event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n"));
}

/** The JSON events of a stream (everything before `[DONE]`) and whether `[DONE]` came. */
async function streamOf(res: Response): Promise<{ chunks: Json[]; done: boolean }> {
  const data = await sseData(res);
  const done = data.at(-1) === "[DONE]";
  return { chunks: (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d) as Json), done };
}

/** What the upstream received for the n-th request (0-based). */
function received(index = 0): unknown {
  return matrix.upstream.requests[index]?.body;
}

const WEATHER_PARAMETERS = {
  type: "object",
  properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["city", "unit"],
  additionalProperties: false,
};

/** A request with every field of the Chat Completions API, and unknown fields at every level. */
function everyField(overrides: Json = {}): Json {
  return {
    model: CHAT_MODEL,
    messages: [
      { role: "developer", content: "Answer briefly.", x_message: { a: 1 } },
      { role: "system", content: [{ type: "text", text: "Be kind." }] },
      {
        role: "user",
        name: "ann",
        content: [
          { type: "text", text: "Look at these." },
          { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "low" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", x_image: true } },
          { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
          { type: "file", file: { file_id: "file-abc123" } },
          { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } },
          { type: "text", text: "Thanks", x_part: [1, 2] },
        ],
      },
      {
        role: "assistant",
        content: null,
        refusal: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}', x_fn: 1 }, x_call: "y" }],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp":21}' },
      { role: "assistant", content: null, function_call: { name: "lookup", arguments: "{}" } },
      { role: "function", name: "lookup", content: "42" },
      { role: "user", content: "And tomorrow?" },
    ],
    tools: [
      { type: "function", function: { name: "get_weather", description: "Weather", parameters: WEATHER_PARAMETERS, strict: true, x_def: "d" }, x_tool: { b: 2 } },
      { type: "function", function: { name: "get_time" } },
    ],
    tool_choice: "auto",
    parallel_tool_calls: false,
    functions: [{ name: "lookup", description: "Look up", parameters: { type: "object", properties: { q: { type: "string" } } } }],
    function_call: "auto",
    response_format: {
      type: "json_schema",
      json_schema: { name: "answer", strict: true, schema: { type: "object", properties: { text: { type: "string" } } } },
      x_format: 1,
    },
    stop: ["END", "STOP"],
    n: 2,
    seed: 7,
    logprobs: true,
    top_logprobs: 2,
    logit_bias: { "50256": -100, "1734": 5 },
    max_tokens: 200,
    max_completion_tokens: 300,
    reasoning_effort: "low",
    user: "user-42",
    metadata: { team: "search", run: "7" },
    store: true,
    temperature: 0.3,
    top_p: 0.9,
    presence_penalty: 0.1,
    frequency_penalty: 0.2,
    service_tier: "auto",
    modalities: ["text"],
    prediction: { type: "content", content: "Sunny" },
    x_top_level: { nested: [1, { deep: true }] },
    ...overrides,
  };
}

describe("every chat request field reaches an OpenAI upstream unchanged", () => {
  const variants: Array<[string, Json]> = [
    ["tool_choice auto, json_schema strict, stop list", {}],
    ["tool_choice none", { tool_choice: "none" }],
    ["tool_choice required", { tool_choice: "required" }],
    ["tool_choice naming a function", { tool_choice: { type: "function", function: { name: "get_weather" } } }],
    ["tool_choice of a form the mesh does not model", { tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } } }],
    ["response_format json_object, stop string", { response_format: { type: "json_object" }, stop: "END" }],
    ["legacy function_call naming a function, no tools", { tools: undefined, tool_choice: undefined, function_call: { name: "lookup" } }],
    ["explicit nulls", { user: null, seed: null, tool_choice: null, stop: null }],
  ];

  it.each(variants)("%s", async (_name, overrides) => {
    const body = JSON.parse(JSON.stringify(everyField(overrides))) as Json;
    const res = await post("/v1/chat/completions", body);
    expect(res.status).toBe(200);
    expect(received()).toEqual(body);
    // And the answer is the upstream's, as the same request straight to it gets.
    const direct = await postDirect("/v1/chat/completions", body);
    const [viaMesh, straight] = [withoutIds(await res.json()), withoutIds(await direct.json())];
    expect(viaMesh).toEqual(straight);
    // Byte for byte, key order included.
    expect(JSON.stringify(viaMesh)).toBe(JSON.stringify(straight));
  });

  it("streamed: the same, with include_usage forced on upstream and other stream options kept", async () => {
    const body = everyField({ stream: true, stream_options: { include_usage: false, include_obfuscation: false } });
    const res = await post("/v1/chat/completions", body);
    expect(res.status).toBe(200);
    expect(received()).toEqual({ ...body, stream_options: { include_usage: true, include_obfuscation: false } });
    const { chunks, done } = await streamOf(res);
    expect(done).toBe(true);
    const direct = await streamOf(await postDirect("/v1/chat/completions", body));
    expect(withoutIds(chunks)).toEqual(withoutIds(direct.chunks));
    // Byte for byte, key order included.
    expect(JSON.stringify(withoutIds(chunks))).toBe(JSON.stringify(withoutIds(direct.chunks)));
  });
});

describe("answers in the legacy and logprobs shapes", () => {
  const legacyRequest = (stream: boolean): Json => ({
    model: CHAT_MODEL,
    messages: [{ role: "user", content: "find cats" }],
    functions: [{ name: "search", parameters: { type: "object", properties: { query: { type: "string" } } } }],
    ...(stream ? { stream: true } : {}),
  });

  it("answers legacy functions with message.function_call, as the upstream does", async () => {
    const res = await post("/v1/chat/completions", legacyRequest(false));
    const answer = (await res.json()) as { choices: Array<{ message: Json; finish_reason: string }> };
    expect(answer.choices[0]?.finish_reason).toBe("function_call");
    expect(answer.choices[0]?.message.function_call).toEqual({ name: "search", arguments: '{"query":"find cats"}' });
    expect(answer.choices[0]?.message).not.toHaveProperty("tool_calls");
    const direct = await postDirect("/v1/chat/completions", legacyRequest(false));
    expect(withoutIds(answer)).toEqual(withoutIds(await direct.json()));
  });

  it("streams legacy function calls as delta.function_call fragments", async () => {
    const { chunks } = await streamOf(await post("/v1/chat/completions", legacyRequest(true)));
    const deltas = chunks.map((c) => (c.choices as Array<{ delta: { function_call?: { name?: string; arguments?: string } } }>)[0]?.delta);
    expect(deltas[0]?.function_call?.name).toBe("search");
    expect(deltas.map((d) => d?.function_call?.arguments ?? "").join("")).toBe('{"query":"find cats"}');
    const direct = await streamOf(await postDirect("/v1/chat/completions", legacyRequest(true)));
    expect(withoutIds(chunks)).toEqual(withoutIds(direct.chunks));
    // Byte for byte, key order included.
    expect(JSON.stringify(withoutIds(chunks))).toBe(JSON.stringify(withoutIds(direct.chunks)));
  });

  it("passes logprobs through, whole and streamed", async () => {
    const body = { model: CHAT_MODEL, messages: [{ role: "user", content: "two words" }], logprobs: true, top_logprobs: 2 };
    const whole = (await (await post("/v1/chat/completions", body)).json()) as { choices: Array<{ logprobs: { content: unknown[] } }> };
    expect(whole.choices[0]?.logprobs.content.length).toBeGreaterThan(0);
    expect(withoutIds(whole)).toEqual(withoutIds(await (await postDirect("/v1/chat/completions", body)).json()));
    const streamed = await streamOf(await post("/v1/chat/completions", { ...body, stream: true }));
    const direct = await streamOf(await postDirect("/v1/chat/completions", { ...body, stream: true }));
    expect(withoutIds(streamed.chunks)).toEqual(withoutIds(direct.chunks));
  });
});

describe("streaming", () => {
  const toolRequest = (extra: Json = {}): Json => ({
    model: CHAT_MODEL,
    messages: [{ role: "user", content: "Weather in Oslo?" }],
    tools: [{ type: "function", function: { name: "get_weather", parameters: WEATHER_PARAMETERS } }],
    stream: true,
    ...extra,
  });

  it("sends OpenAI's chunk fields: role first, tool call fragments with index, id and name, finish_reason, then usage when asked", async () => {
    const res = await post("/v1/chat/completions", toolRequest({ stream_options: { include_usage: true } }));
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { chunks, done } = await streamOf(res);
    expect(done).toBe(true);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: CHAT_MODEL, system_fingerprint: expect.any(String) });
      expect(typeof chunk.id).toBe("string");
      expect(typeof chunk.created).toBe("number");
    }
    type Choice = { index: number; delta: { role?: string; tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }> }; finish_reason: string | null };
    const choices = chunks.slice(0, -1).map((c) => (c.choices as Choice[])[0]!);
    expect(choices[0]?.delta.role).toBe("assistant");
    expect(choices[0]?.delta.tool_calls?.[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), function: { name: "get_weather" } });
    const args = choices.flatMap((c) => c.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? "").join("");
    expect(JSON.parse(args)).toEqual({ city: "Weather in Oslo?", unit: "celsius" });
    expect(choices.at(-1)?.finish_reason).toBe("tool_calls");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
    // Ordinary chunks carry `usage: null`, as OpenAI sends them when usage was asked for.
    expect(chunks[0]?.usage).toBeNull();
  });

  it("asks the upstream for usage always, and shows the client none when it did not ask", async () => {
    const { chunks } = await streamOf(await post("/v1/chat/completions", toolRequest()));
    expect(received()).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks.every((c) => !("usage" in c))).toBe(true);
    expect(chunks.every((c) => (c.choices as unknown[]).length > 0)).toBe(true);
  });

  it("refuses stream_options without stream: true as OpenAI does, before any upstream call", async () => {
    for (const [path, body] of [
      ["/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } }],
      ["/v1/completions", { model: CHAT_MODEL, prompt: "hi", stream: false, stream_options: { include_usage: true } }],
    ] as const) {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", type: "invalid_request_error", param: "stream_options", code: null },
      });
    }
    expect(matrix.upstream.requests).toHaveLength(0);
  });

  it("ends a stream that fails after its first byte with an OpenAI error event, and no [DONE]", async () => {
    matrix.upstream.scriptNext({ kind: "stream-error", afterChunks: 2, error: { message: "The model crashed.", type: "server_error", param: null, code: null } });
    const res = await post("/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "tell me a long story" }], stream: true });
    expect(res.status).toBe(200);
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(data).toHaveLength(3);
    const error = JSON.parse(data.at(-1)!) as { error: Json };
    expect(error).toEqual({ error: { message: "The model crashed.", type: "api_error", param: null, code: "upstream_error" } });
  });
});

describe("the native mock provider", () => {
  const native = (extra: Json = {}): Json => ({ model: NATIVE_MODEL, messages: [{ role: "user", content: "hello there" }], ...extra });
  const image = { type: "image_url", image_url: { url: "https://example.com/cat.png" } };

  it.each<[string, Json, string]>([
    ["logprobs", { logprobs: true }, "logprobs"],
    ["top_logprobs", { top_logprobs: 2 }, "top_logprobs"],
    ["logit_bias", { logit_bias: { "50256": -100 } }, "logit_bias"],
    ["reasoning_effort", { reasoning_effort: "high" }, "reasoning_effort"],
    ["store: true", { store: true }, "store"],
    ["an image part", { messages: [{ role: "user", content: [{ type: "text", text: "see" }, image] }] }, "messages[0].content[1]"],
    ["an audio part", { messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }] }] }, "messages[0].content[0]"],
    ["a file part", { messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] }, "messages[0].content[0]"],
    ["a custom tool", { tools: [{ type: "custom", custom: { name: "grammar" } }] }, "tools[0].type"],
    ["an allowed_tools choice", { tools: [{ type: "function", function: { name: "f" } }], tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } } }, "tool_choice"],
    ["an unknown top-level field", { prediction: { type: "content", content: "x" } }, "prediction"],
    ["an unknown message field", { messages: [{ role: "user", content: "hi", cache_control: { type: "ephemeral" } }] }, "messages[0].cache_control"],
    ["an unknown tool field", { tools: [{ type: "function", function: { name: "f", x_def: 1 } }] }, "tools[0].function.x_def"],
  ])("refuses %s with a 400 naming it", async (_name, extra, param) => {
    for (const stream of [false, true]) {
      const res = await post("/v1/chat/completions", native({ ...extra, stream }));
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; type: string; param: string; code: string } };
      expect(error).toMatchObject({ type: "invalid_request_error", param, code: "unsupported_parameter" });
      expect(error.message).toContain(`'${param}'`);
    }
  });

  it("accepts the fields it can express or that do not change its answer", async () => {
    const res = await post(
      "/v1/chat/completions",
      native({
        temperature: 0.1, top_p: 0.5, seed: 3, presence_penalty: 0, frequency_penalty: 0, user: "u", metadata: { a: "b" },
        store: false, logprobs: false, n: 2, max_tokens: 100, max_completion_tokens: 100, parallel_tool_calls: true,
        tool_choice: null, messages: [{ role: "user", content: [{ type: "text", text: "hello there" }], name: null }],
      }),
    );
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices.map((c) => c.message.content)).toEqual(["Mock reply to: hello there", "Mock reply to: hello there"]);
  });

  it("translates stop: the reply ends before the first stop sequence", async () => {
    for (const stop of ["reply", ["there", "reply"]]) {
      const answer = (await (await post("/v1/chat/completions", native({ stop }))).json()) as { choices: Array<{ message: { content: string }; finish_reason: string }> };
      expect(answer.choices[0]).toMatchObject({ message: { content: "Mock " }, finish_reason: "stop" });
    }
  });

  it("translates response_format: JSON for json_object, a value of the schema for json_schema", async () => {
    const content = async (format: Json) => {
      const answer = (await (await post("/v1/chat/completions", native({ response_format: format }))).json()) as { choices: Array<{ message: { content: string } }> };
      return JSON.parse(answer.choices[0]!.message.content) as unknown;
    };
    expect(await content({ type: "json_object" })).toEqual({ reply: "Mock reply to: hello there" });
    const schema = { type: "object", properties: { mood: { enum: ["calm", "busy"] }, score: { type: "number" } }, required: ["mood", "score"] };
    expect(await content({ type: "json_schema", json_schema: { name: "m", strict: true, schema } })).toEqual({ mood: "calm", score: 1 });
  });

  it("answers legacy functions in the legacy shape, whole and streamed", async () => {
    const functions = [{ name: "search", parameters: { type: "object", properties: { query: { type: "string" } } } }];
    const whole = (await (await post("/v1/chat/completions", native({ functions }))).json()) as { choices: Array<{ message: Json; finish_reason: string }> };
    expect(whole.choices[0]?.finish_reason).toBe("function_call");
    expect(whole.choices[0]?.message.function_call).toEqual({ name: "search", arguments: '{"query":"mock"}' });

    const { chunks } = await streamOf(await post("/v1/chat/completions", native({ functions, stream: true })));
    const deltas = chunks.map((c) => (c.choices as Array<{ delta: { function_call?: { name?: string; arguments?: string } }; finish_reason: string | null }>)[0]);
    expect(deltas[0]?.delta.function_call?.name).toBe("search");
    expect(deltas.map((d) => d?.delta.function_call?.arguments ?? "").join("")).toBe('{"query":"mock"}');
    expect(deltas.at(-1)?.finish_reason).toBe("function_call");

    const none = (await (await post("/v1/chat/completions", native({ functions, function_call: "none" }))).json()) as { choices: Array<{ message: Json }> };
    expect(none.choices[0]?.message.content).toBe("Mock reply to: hello there");
    const badName = await post("/v1/chat/completions", native({ functions, function_call: { name: "nope" } }));
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { error: { param: string } }).error.param).toBe("function_call");
  });
});

describe("embeddings reach the upstream unchanged", () => {
  it.each<[string, Json]>([
    ["a string", { input: "hello" }],
    ["a list of strings", { input: ["a", "b c"] }],
    ["a token array", { input: [1, 2, 3] }],
    ["token arrays", { input: [[1, 2], [3]] }],
    ["dimensions and base64", { input: "hello", dimensions: 4, encoding_format: "base64" }],
    ["float, user and an unknown field", { input: "hello", encoding_format: "float", user: "u-1", x_extra: { a: [1] } }],
  ])("%s", async (_name, fields) => {
    const body = { model: EMBED_MODEL, ...fields };
    const res = await post("/v1/embeddings", body);
    expect(res.status).toBe(200);
    expect(received()).toEqual(body);
    expect(await res.json()).toEqual(await (await postDirect("/v1/embeddings", body)).json());
  });
});

describe("response headers", () => {
  it("echoes the client's x-request-id, or makes one", async () => {
    const echoed = await post("/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": "req-client-42" });
    expect(echoed.headers.get("x-request-id")).toBe("req-client-42");
    const made = await post("/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "hi" }] });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const failed = await post("/v1/chat/completions", { model: "nope", messages: [{ role: "user", content: "hi" }] }, { "x-request-id": "req-client-43" });
    expect(failed.headers.get("x-request-id")).toBe("req-client-43");
  });

  it("names the target that served the request", async () => {
    const upstream = await post("/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "hi" }] });
    expect(upstream.headers.get("x-llmmesh-served-by")).toBe(`upstream/${CHAT_MODEL}`);
    const native = await post("/v1/chat/completions", { model: NATIVE_MODEL, messages: [{ role: "user", content: "hi" }], stream: true });
    expect(native.headers.get("x-llmmesh-served-by")).toBe("native/mock-1");
    const embed = await post("/v1/embeddings", { model: EMBED_MODEL, input: "x" });
    expect(embed.headers.get("x-llmmesh-served-by")).toBe(`upstream/${EMBED_MODEL}`);
  });

  // The mesh's time is the gateway's elapsed time minus the upstream's, so an
  // upstream that waits `UPSTREAM_WAIT_MS` leaves at most the client's own
  // elapsed time minus that wait (2 ms of slack for timer rounding).
  const UPSTREAM_WAIT_MS = 300;
  it.each([
    ["a complete answer", false],
    ["a stream (to its first chunk)", true],
  ])("reports the time the mesh added, without the upstream's, for %s", async (_name, stream) => {
    matrix.upstream.scriptNext({ kind: "delay", ms: UPSTREAM_WAIT_MS });
    const started = performance.now();
    const res = await post("/v1/chat/completions", { model: CHAT_MODEL, messages: [{ role: "user", content: "hi" }], stream });
    await res.text();
    const elapsed = performance.now() - started;
    const overhead = Number(res.headers.get("x-llmmesh-overhead-ms"));
    expect(res.headers.get("x-llmmesh-overhead-ms")).toMatch(/^\d+\.\d{2}$/);
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThanOrEqual(elapsed - UPSTREAM_WAIT_MS + 2);
    expect(res.headers.get("access-control-expose-headers")).toContain("x-llmmesh-overhead-ms");
  });
});
