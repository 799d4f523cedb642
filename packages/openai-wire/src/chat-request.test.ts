import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatRequestSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { chatRequestFromJson, chatRequestToJson } from "./chat-request.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8")) as Json;
}

/** What the upstream must receive for a client body: everything but the stream flags. */
function withoutStreamFields(body: Json): Json {
  const { stream: _stream, stream_options: _options, ...rest } = body;
  return rest;
}

/** Client JSON → proto → over the wire as protobuf binary (as between services) → upstream JSON. */
function roundTrip(body: Json): Json {
  const { request } = chatRequestFromJson(structuredClone(body));
  const copy = fromBinary(ChatRequestSchema, toBinary(ChatRequestSchema, request));
  return chatRequestToJson(copy);
}

const user = (content: unknown): Json => ({ role: "user", content });
const minimal = (extra: Json = {}): Json => ({ model: "gpt-4o-mini", messages: [user("Hi")], ...extra });

describe("chatRequestFromJson / chatRequestToJson round trip", () => {
  const cases: Array<[string, Json]> = [
    ["tools, sampling fields and unknown top-level fields", fixture("chat-request-tools.json")],
    ["content parts, legacy functions, explicit null", fixture("chat-request-content-parts.json")],
    ["minimal body", minimal()],
    ["assistant message with tool calls and no content key", minimal({
      messages: [user("Hi"), { role: "assistant", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] }],
    })],
    ["assistant message with explicit null content and no tool calls", minimal({ messages: [user("Hi"), { role: "assistant", content: null }] })],
    ["legacy function_call message and function role", minimal({
      messages: [
        user("Hi"),
        { role: "assistant", content: null, function_call: { name: "lookup", arguments: "{\"q\":1}" } },
        { role: "function", name: "lookup", content: "42" },
      ],
    })],
    ["empty content string and empty parts array", minimal({ messages: [user(""), { role: "assistant", content: [] }] })],
    ["values the proto cannot express: empty lists, empty map, nulls", minimal({
      tools: [], stop: [], metadata: {}, tool_choice: null, max_tokens: null, seed: null, user: null,
      messages: [user("Hi"), { role: "assistant", content: "ok", tool_calls: [], name: null, refusal: null }],
    })],
    ["stop as a one-element list stays a list", minimal({ stop: ["x"] })],
    ["stop as an empty string", minimal({ stop: "" })],
    ["tool_choice naming a function", minimal({ tool_choice: { type: "function", function: { name: "f" } } })],
    ["tool_choice none/required", minimal({ tool_choice: "required" })],
    ["response_format json_object and text", minimal({ response_format: { type: "json_object" } })],
    ["unknown keys at every level of tools, tool calls, tool_choice, response_format", minimal({
      messages: [
        user("Hi"),
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}", x_fn: 1 }, x_call: [true] }],
        },
        { role: "tool", tool_call_id: "c1", content: "ok" },
      ],
      tools: [
        { type: "function", function: { name: "f", description: null, parameters: { type: "object" }, strict: true, x_def: "d" }, x_tool: { a: 1 } },
        { type: "custom", custom: { name: "grammar", format: { type: "text" } } },
      ],
      tool_choice: { type: "function", function: { name: "f", x_choice_fn: 2 }, x_choice: 3 },
      response_format: { type: "json_schema", json_schema: { name: "s", strict: true, schema: { type: "object" } }, x_format: null },
    })],
    ["tool_choice forms we do not model are kept whole", minimal({ tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } } })],
    ["numbers at their bounds", minimal({ temperature: 0, top_p: 0, n: 128, top_logprobs: 0, seed: -9007199254740991, max_tokens: 1 })],
    ["large int64 seed", minimal({ seed: 9007199254740991 })],
    ["unicode everywhere", minimal({ messages: [user("héllo 👋 世界"), { role: "assistant", content: "ok", "x-ü": "✓" }] })],
    ["a `__proto__` key is kept as data", JSON.parse('{"model":"m","messages":[{"role":"user","content":"x","__proto__":{"polluted":true}}],"__proto__":{"a":1}}') as Json],
  ];

  it.each(cases)("%s", (_name, body) => {
    const out = roundTrip(body);
    expect(out).toStrictEqual(withoutStreamFields(body));
    expect(JSON.parse(JSON.stringify(out))).toStrictEqual(JSON.parse(JSON.stringify(withoutStreamFields(body))));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe("chatRequestFromJson modelling", () => {
  it("keeps stream options besides include_usage for the upstream", () => {
    const out = roundTrip(minimal({ stream: true, stream_options: { include_usage: true, include_obfuscation: false } }));
    expect(out).toStrictEqual({ ...minimal(), stream_options: { include_obfuscation: false } });
    expect(roundTrip(minimal({ stream: true, stream_options: { include_usage: true } }))).toStrictEqual(minimal());
  });

  it("models the tools fixture's fields and keeps unknown ones in extraJson", () => {
    const { request, stream } = chatRequestFromJson(fixture("chat-request-tools.json"));
    expect(stream).toBe(true);
    expect(request.includeUsage).toBe(true);
    expect(request.model).toBe("gpt-4o-mini");
    expect(request.messages.map((m) => m.role)).toEqual(["developer", "user", "assistant", "tool", "tool"]);
    expect(request.messages[1]?.name).toBe("alice");
    expect(request.messages[2]?.content.case).toBeUndefined();
    expect(request.messages[2]?.toolCalls.map((c) => c.name)).toEqual(["get_current_weather", "get_current_weather"]);
    expect(request.messages[3]?.toolCallId).toBe("call_7qGmTQm6vF3kcLPCrWqYpVYN");
    expect(request.tools[0]?.function?.strict).toBe(true);
    expect(JSON.parse(request.tools[0]?.function?.parametersJson ?? "null")).toMatchObject({ required: ["location", "unit"] });
    expect(request.toolChoice?.choice).toEqual({ case: "mode", value: "auto" });
    expect(request.maxCompletionTokens).toBe(512n);
    expect(request.seed).toBe(42n);
    expect(request.stop).toEqual(["\n\nHuman:", "END"]);
    expect(request.stopIsString).toBe(false);
    expect(request.metadata).toEqual({ session: "abc", team: "search" });
    expect(JSON.parse(request.logitBiasJson ?? "null")).toEqual({ "50256": -100, "1734": 5 });
    expect(JSON.parse(request.extraJson)).toEqual({
      service_tier: "auto",
      modalities: ["text"],
      prediction: { type: "content", content: "The weather in Boston is" },
    });
  });

  it("models content parts and keeps parts it cannot express whole", () => {
    const { request, stream } = chatRequestFromJson(fixture("chat-request-content-parts.json"));
    expect(stream).toBe(false);
    expect(request.includeUsage).toBe(false);
    const content = request.messages[1]?.content;
    expect(content?.case).toBe("parts");
    const parts = content?.case === "parts" ? content.value.parts.map((p) => p.part) : [];
    expect(parts.map((p) => p.case)).toEqual(["text", "imageUrl", "imageUrl", "inputAudio", "file", "file", "otherJson", "otherJson"]);
    expect(parts[1]?.case === "imageUrl" && parts[1].value.detail).toBe("high");
    expect(parts[3]?.case === "inputAudio" && parts[3].value.format).toBe("wav");
    expect(parts[4]?.case === "file" && parts[4].value.fileId).toBe("file-6F2ksmvXxt4VdoqmHRw6kL");
    expect(parts[6]?.case === "otherJson" && JSON.parse(parts[6].value)).toEqual({
      type: "text", text: "Be concise.", cache_control: { type: "ephemeral" },
    });
    expect(request.stop).toEqual(["STOP"]);
    expect(request.stopIsString).toBe(true);
    expect(request.toolChoice?.choice).toEqual({ case: "functionName", value: "describe" });
    expect(request.responseFormat?.type).toBe("json_schema");
    expect(JSON.parse(request.responseFormat?.jsonSchemaJson ?? "null")).toMatchObject({ name: "attachment_summary" });
    expect(JSON.parse(request.messages[2]?.extraJson ?? "")).toEqual({ audio: { id: "audio_abc123" } });
    expect(JSON.parse(request.extraJson)).toMatchObject({ function_call: "auto", temperature: null, web_search_options: {} });
    expect(request.temperature).toBeUndefined();
  });

  it.each([
    [{ stream: false }, false, false],
    [{ stream: true }, true, false],
    [{ stream: null, stream_options: null }, false, false],
    [{ stream: true, stream_options: {} }, true, false],
    [{ stream: true, stream_options: { include_usage: false } }, true, false],
    [{ stream: true, stream_options: { include_usage: true } }, true, true],
  ])("stream flags %j", (flags, stream, includeUsage) => {
    const parsed = chatRequestFromJson(minimal(flags));
    expect(parsed.stream).toBe(stream);
    expect(parsed.request.includeUsage).toBe(includeUsage);
    expect(chatRequestToJson(parsed.request)).toStrictEqual(minimal());
  });
});

describe("chatRequestFromJson validation", () => {
  const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
  const cases: Array<[string, unknown, string | undefined]> = [
    ["body is an array", [], undefined],
    ["body is a string", "hello", undefined],
    ["body is null", null, undefined],
    ["model missing", { messages: [user("x")] }, "model"],
    ["model empty", minimal({ model: "" }), "model"],
    ["model too long", minimal({ model: "m".repeat(257) }), "model"],
    ["model a number", minimal({ model: 4 }), "model"],
    ["model null", minimal({ model: null }), "model"],
    ["messages missing", { model: "m" }, "messages"],
    ["messages empty", minimal({ messages: [] }), "messages"],
    ["messages an object", minimal({ messages: { role: "user" } }), "messages"],
    ["message not an object", minimal({ messages: ["hi"] }), "messages[0]"],
    ["role missing", minimal({ messages: [{ content: "x" }] }), "messages[0].role"],
    ["role unknown", minimal({ messages: [user("x"), { role: "bot", content: "x" }] }), "messages[1].role"],
    ["role not a string", minimal({ messages: [{ role: 1, content: "x" }] }), "messages[0].role"],
    ["user content null", minimal({ messages: [user(null)] }), "messages[0].content"],
    ["system content missing", minimal({ messages: [{ role: "system" }] }), "messages[0].content"],
    ["tool content missing", minimal({ messages: [{ role: "tool", tool_call_id: "c" }] }), "messages[0].content"],
    ["content a number", minimal({ messages: [user(5)] }), "messages[0].content"],
    ["content an object", minimal({ messages: [user({ type: "text", text: "x" })] }), "messages[0].content"],
    ["part not an object", minimal({ messages: [user(["x"])] }), "messages[0].content[0]"],
    ["part without type", minimal({ messages: [user([{ text: "x" }])] }), "messages[0].content[0].type"],
    ["text part without text", minimal({ messages: [user([{ type: "text" }])] }), "messages[0].content[0].text"],
    ["text part with numeric text", minimal({ messages: [user([{ type: "text", text: 1 }])] }), "messages[0].content[0].text"],
    ["image part without image_url", minimal({ messages: [user([{ type: "text", text: "a" }, { type: "image_url" }])] }), "messages[0].content[1].image_url"],
    ["image part as a bare string", minimal({ messages: [user([{ type: "image_url", image_url: "https://x" }])] }), "messages[0].content[0].image_url"],
    ["image part without url", minimal({ messages: [user([{ type: "image_url", image_url: { detail: "low" } }])] }), "messages[0].content[0].image_url.url"],
    ["image detail not a string", minimal({ messages: [user([{ type: "image_url", image_url: { url: "u", detail: 1 } }])] }), "messages[0].content[0].image_url.detail"],
    ["audio part without format", minimal({ messages: [user([{ type: "input_audio", input_audio: { data: "AAAA" } }])] }), "messages[0].content[0].input_audio.format"],
    ["audio part without data", minimal({ messages: [user([{ type: "input_audio", input_audio: { format: "wav" } }])] }), "messages[0].content[0].input_audio.data"],
    ["file part with neither id nor data", minimal({ messages: [user([{ type: "file", file: { filename: "a.pdf" } }])] }), "messages[0].content[0].file"],
    ["file part with numeric id", minimal({ messages: [user([{ type: "file", file: { file_id: 7 } }])] }), "messages[0].content[0].file.file_id"],
    ["tool message without tool_call_id", minimal({ messages: [user("x"), { role: "tool", content: "r" }] }), "messages[1].tool_call_id"],
    ["tool_call_id not a string", minimal({ messages: [{ role: "tool", content: "r", tool_call_id: 3 }] }), "messages[0].tool_call_id"],
    ["tool message answering no call at all", minimal({ messages: [user("x"), { role: "tool", content: "r", tool_call_id: "call_1" }] }), "messages[1].tool_call_id"],
    ["tool message answering an unknown id", minimal({
      messages: [user("x"), { role: "assistant", tool_calls: [call] }, { role: "tool", content: "r", tool_call_id: "call_2" }],
    }), "messages[2].tool_call_id"],
    ["tool message before the call it answers", minimal({
      messages: [user("x"), { role: "tool", content: "r", tool_call_id: "call_1" }, { role: "assistant", tool_calls: [call] }],
    }), "messages[1].tool_call_id"],
    ["tool message answering a user message's `tool_calls` key", minimal({
      messages: [{ role: "user", content: "x", tool_calls: [call] }, { role: "tool", content: "r", tool_call_id: "call_1" }],
    }), "messages[1].tool_call_id"],
    ["name not a string", minimal({ messages: [{ role: "user", content: "r", name: 3 }] }), "messages[0].name"],
    ["refusal not a string", minimal({ messages: [{ role: "assistant", content: "r", refusal: 3 }] }), "messages[0].refusal"],
    ["function_call not an object", minimal({ messages: [{ role: "assistant", content: null, function_call: "f" }] }), "messages[0].function_call"],
    ["tool_calls not an array", minimal({ messages: [{ role: "assistant", content: null, tool_calls: call }] }), "messages[0].tool_calls"],
    ["tool call without id", minimal({ messages: [{ role: "assistant", tool_calls: [{ ...call, id: undefined }] }] }), "messages[0].tool_calls[0].id"],
    ["tool call without type", minimal({ messages: [{ role: "assistant", tool_calls: [call, { ...call, type: undefined }] }] }), "messages[0].tool_calls[1].type"],
    ["tool call without function", minimal({ messages: [{ role: "assistant", tool_calls: [{ id: "c", type: "function" }] }] }), "messages[0].tool_calls[0].function"],
    ["tool call without name", minimal({ messages: [{ role: "assistant", tool_calls: [{ ...call, function: { arguments: "{}" } }] }] }), "messages[0].tool_calls[0].function.name"],
    ["tool call with object arguments", minimal({ messages: [{ role: "assistant", tool_calls: [{ ...call, function: { name: "f", arguments: {} } }] }] }), "messages[0].tool_calls[0].function.arguments"],
    ["tools not an array", minimal({ tools: {} }), "tools"],
    ["tool not an object", minimal({ tools: ["f"] }), "tools[0]"],
    ["tool without a type", minimal({ tools: [{ function: { name: "x" } }] }), "tools[0].type"],
    ["function tool without a function", minimal({ tools: [{ type: "function" }] }), "tools[0].function"],
    ["tool without function", minimal({ tools: [{ type: "function" }] }), "tools[0].function"],
    ["tool without name", minimal({ tools: [{ type: "function", function: { description: "d" } }] }), "tools[0].function.name"],
    ["tool with empty name", minimal({ tools: [{ type: "function", function: { name: "" } }] }), "tools[0].function.name"],
    ["tool description not a string", minimal({ tools: [{ type: "function", function: { name: "f", description: 1 } }] }), "tools[0].function.description"],
    ["tool parameters not an object", minimal({ tools: [{ type: "function", function: { name: "f", parameters: "{}" } }] }), "tools[0].function.parameters"],
    ["tool strict not a boolean", minimal({ tools: [{ type: "function", function: { name: "f", strict: "yes" } }] }), "tools[0].function.strict"],
    ["tool_choice unknown mode", minimal({ tool_choice: "always" }), "tool_choice"],
    ["tool_choice a number", minimal({ tool_choice: 1 }), "tool_choice"],
    ["tool_choice object without a type", minimal({ tool_choice: { function: { name: "f" } } }), "tool_choice.type"],
    ["tool_choice without function", minimal({ tool_choice: { type: "function" } }), "tool_choice.function"],
    ["tool_choice without function name", minimal({ tool_choice: { type: "function", function: {} } }), "tool_choice.function.name"],
    ["parallel_tool_calls not a boolean", minimal({ parallel_tool_calls: "true" }), "parallel_tool_calls"],
    ["temperature above 2", minimal({ temperature: 2.5 }), "temperature"],
    ["temperature below 0", minimal({ temperature: -0.1 }), "temperature"],
    ["temperature a string", minimal({ temperature: "0.5" }), "temperature"],
    ["top_p above 1", minimal({ top_p: 1.1 }), "top_p"],
    ["n zero", minimal({ n: 0 }), "n"],
    ["n a fraction", minimal({ n: 1.5 }), "n"],
    ["max_tokens zero", minimal({ max_tokens: 0 }), "max_tokens"],
    ["max_tokens a string", minimal({ max_tokens: "100" }), "max_tokens"],
    ["max_completion_tokens a fraction", minimal({ max_completion_tokens: 10.5 }), "max_completion_tokens"],
    ["top_logprobs above 20", minimal({ top_logprobs: 21 }), "top_logprobs"],
    ["top_logprobs negative", minimal({ top_logprobs: -1 }), "top_logprobs"],
    ["seed a fraction", minimal({ seed: 1.5 }), "seed"],
    ["seed beyond int64", minimal({ seed: -1e30 }), "seed"],
    ["max_tokens beyond exact integers", minimal({ max_tokens: 1e20 }), "max_tokens"],
    ["presence_penalty a string", minimal({ presence_penalty: "high" }), "presence_penalty"],
    ["frequency_penalty a boolean", minimal({ frequency_penalty: true }), "frequency_penalty"],
    ["stop with five sequences", minimal({ stop: ["a", "b", "c", "d", "e"] }), "stop"],
    ["stop a number", minimal({ stop: 5 }), "stop"],
    ["stop with a number inside", minimal({ stop: ["a", 1] }), "stop[1]"],
    ["stream a string", minimal({ stream: "true" }), "stream"],
    ["stream_options a string", minimal({ stream: true, stream_options: "usage" }), "stream_options"],
    ["stream_options without stream", minimal({ stream_options: { include_usage: true } }), "stream_options"],
    ["stream_options with stream false", minimal({ stream: false, stream_options: {} }), "stream_options"],
    ["include_usage a string", minimal({ stream: true, stream_options: { include_usage: "yes" } }), "stream_options.include_usage"],
    ["response_format a string", minimal({ response_format: "json" }), "response_format"],
    ["response_format without type", minimal({ response_format: {} }), "response_format.type"],
    ["response_format of unknown type", minimal({ response_format: { type: "xml" } }), "response_format.type"],
    ["json_schema format without schema", minimal({ response_format: { type: "json_schema" } }), "response_format.json_schema"],
    ["json_schema without name", minimal({ response_format: { type: "json_schema", json_schema: { schema: {} } } }), "response_format.json_schema.name"],
    ["logprobs not a boolean", minimal({ logprobs: 1 }), "logprobs"],
    ["logit_bias not an object", minimal({ logit_bias: [1] }), "logit_bias"],
    ["logit_bias with a string bias", minimal({ logit_bias: { "50256": "-100" } }), "logit_bias.50256"],
    ["metadata not an object", minimal({ metadata: "x" }), "metadata"],
    ["metadata with a number value", minimal({ metadata: { a: "b", count: 1 } }), "metadata.count"],
    ["user not a string", minimal({ user: 42 }), "user"],
    ["reasoning_effort not a string", minimal({ reasoning_effort: 1 }), "reasoning_effort"],
    ["store not a boolean", minimal({ store: "no" }), "store"],
  ];

  it.each(cases)("%s → param %s", (_name, body, param) => {
    let caught: unknown;
    try {
      chatRequestFromJson(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    const err = caught as WireError;
    expect(err.param).toBe(param);
    if (param !== undefined) expect(err.message).toContain(param);
  });

  it.each<[string, Json]>([
    ["assistant with null content", { role: "assistant", content: null }],
    ["assistant without content", { role: "assistant" }],
    ["function message with null content", { role: "function", name: "f", content: null }],
    ["developer with parts", { role: "developer", content: [{ type: "text", text: "x" }] }],
    ["unknown part types are accepted", { role: "user", content: [{ type: "input_video", video: {} }] }],
  ])("accepts %s and sends it on unchanged", (_name, message) => {
    const body = minimal({ messages: [message] });
    expect(chatRequestToJson(chatRequestFromJson(structuredClone(body)).request)).toStrictEqual(body);
  });

  it("accepts tool messages answering calls of any earlier assistant message", () => {
    const toolCall = (id: string) => ({ id, type: "function", function: { name: "f", arguments: "{}" } });
    const body = minimal({
      messages: [
        user("x"),
        { role: "assistant", content: null, tool_calls: [toolCall("a"), toolCall("b")] },
        { role: "tool", content: "1", tool_call_id: "b" },
        { role: "tool", content: "2", tool_call_id: "a" },
        { role: "assistant", content: null, tool_calls: [toolCall("c")] },
        { role: "tool", content: "3", tool_call_id: "c" },
        { role: "tool", content: "again", tool_call_id: "a" },
      ],
    });
    expect(chatRequestFromJson(body).request.messages.map((m) => m.toolCallId ?? null)).toEqual([null, null, "b", "a", null, "c", "a"]);
  });
});
