import { chatRequestToJson, WireError } from "@llmmesh/openai-wire";
import { describe, expect, it } from "vitest";
import { messagesRequestFromJson, type MessagesEndpoint } from "./request.js";
import type { ApiVersion } from "./version.js";

type Json = Record<string, unknown>;

/** What an OpenAI upstream receives for a Messages body. */
function upstreamBody(body: Json, version: ApiVersion = "2023-06-01", endpoint: MessagesEndpoint = "create"): Json {
  return chatRequestToJson(messagesRequestFromJson(body, version, endpoint).request);
}

const USER = [{ role: "user", content: "Hi" }];
const BASE = { model: "claude-x", max_tokens: 100, messages: USER };

/** The WireError a body is refused with. */
function refusal(body: Json, version: ApiVersion = "2023-06-01", endpoint: MessagesEndpoint = "create"): WireError {
  try {
    messagesRequestFromJson(body, version, endpoint);
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error("the body was accepted");
}

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const WEATHER_FUNCTION = {
  type: "function",
  function: { name: "get_weather", description: "Weather for a city", parameters: WEATHER_TOOL.input_schema },
};

describe("messagesRequestFromJson: top-level fields", () => {
  it("maps model, max_tokens and a string message", () => {
    expect(upstreamBody(BASE)).toEqual({ model: "claude-x", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] });
  });

  it("returns stream apart", () => {
    expect(messagesRequestFromJson({ ...BASE, stream: true }, "2023-06-01").stream).toBe(true);
    expect(messagesRequestFromJson(BASE, "2023-06-01").stream).toBe(false);
  });

  it("puts a string system prompt first", () => {
    expect(upstreamBody({ ...BASE, system: "Be brief." }).messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ]);
  });

  it("keeps system text blocks as text parts, dropping cache_control", () => {
    const system = [{ type: "text", text: "Rule one." }, { type: "text", text: "Rule two.", cache_control: { type: "ephemeral" } }];
    expect(upstreamBody({ ...BASE, system }).messages).toEqual([
      { role: "system", content: [{ type: "text", text: "Rule one." }, { type: "text", text: "Rule two." }] },
      { role: "user", content: "Hi" },
    ]);
  });

  it("maps stop_sequences, temperature, top_p, metadata.user_id; top_k travels as an extra field", () => {
    const body = { ...BASE, stop_sequences: ["END", "\n\nHuman:"], temperature: 0.2, top_p: 0.9, top_k: 40, metadata: { user_id: "u-1" } };
    expect(upstreamBody(body)).toEqual({
      model: "claude-x",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hi" }],
      stop: ["END", "\n\nHuman:"],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      user: "u-1",
    });
  });

  it("maps output_config: effort → reasoning_effort, format → a strict json_schema response_format", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"], additionalProperties: false };
    const body = { ...BASE, output_config: { effort: "low", format: { type: "json_schema", schema } } };
    expect(upstreamBody(body)).toMatchObject({
      reasoning_effort: "low",
      response_format: { type: "json_schema", json_schema: { name: "output", schema, strict: true } },
    });
  });

  it("accepts serving hints without forwarding them, and thinking disabled", () => {
    const body = {
      ...BASE,
      cache_control: { type: "ephemeral" },
      service_tier: "auto",
      speed: null,
      inference_geo: "us",
      thinking: { type: "disabled" },
      metadata: { user_id: null },
    };
    expect(upstreamBody(body)).toEqual(upstreamBody(BASE));
  });

  it.each([
    [{ messages: USER, max_tokens: 1 }, "model: Field required", "model"],
    [{ model: "m", max_tokens: 1 }, "messages: Field required", "messages"],
    [{ model: "m", messages: USER }, "max_tokens: Field required", "max_tokens"],
    [{ ...BASE, max_tokens: 0 }, "Invalid 'max_tokens': expected an integer >= 1, got 0.", "max_tokens"],
    [{ ...BASE, max_tokens: -5 }, "Invalid 'max_tokens': expected an integer >= 1, got -5.", "max_tokens"],
    [{ ...BASE, max_tokens: 1.5 }, "Invalid 'max_tokens': expected an integer >= 1, got a number.", "max_tokens"],
    [{ ...BASE, model: "" }, "model: must be a non-empty string", "model"],
    [{ ...BASE, model: "m".repeat(10_000) }, "model: longer than 256 characters", "model"],
    [{ ...BASE, messages: [] }, "messages: at least one message is required", "messages"],
    [{ ...BASE, temperature: 1.5 }, "Invalid 'temperature': expected a number between 0 and 1, got 1.5.", "temperature"],
    [{ ...BASE, stop_sequences: "END" }, "Invalid 'stop_sequences': expected an array, got a string.", "stop_sequences"],
    [{ ...BASE, metadata: { user_id: "u", tag: "x" } }, "metadata.tag: Extra inputs are not permitted", "metadata.tag"],
    [{ ...BASE, frequency_penalty: 1 }, "frequency_penalty: Extra inputs are not permitted", "frequency_penalty"],
    [{ ...BASE, container: "c-1" }, "container: code-execution containers are not supported by this gateway", "container"],
    [{ ...BASE, stream: "yes" }, "Invalid 'stream': expected a boolean, got a string.", "stream"],
  ])("refuses %j", (body, message, param) => {
    const err = refusal(body as Json);
    expect(err.message).toBe(message);
    expect(err.param).toBe(param);
  });

  it("refuses extended thinking by name", () => {
    const err = refusal({ ...BASE, thinking: { type: "enabled", budget_tokens: 2048 } });
    expect(err.param).toBe("thinking.type");
    expect(err.message).toContain("'enabled' is not supported");
  });

  it("refuses the sampling parameters that anthropic-version 2026-10-21 removed", () => {
    for (const field of ["temperature", "top_p", "top_k"]) {
      const err = refusal({ ...BASE, [field]: 0 }, "2026-10-21");
      expect(err.param).toBe(field);
      expect(err.message).toContain("removed in anthropic-version 2026-10-21");
    }
  });

  it("count_tokens: needs no max_tokens and refuses create-only fields", () => {
    expect(upstreamBody({ model: "m", messages: USER }, "2023-06-01", "count_tokens")).toEqual({ model: "m", messages: [{ role: "user", content: "Hi" }] });
    expect(refusal({ ...BASE }, "2023-06-01", "count_tokens").message).toBe("max_tokens: Extra inputs are not permitted");
    expect(refusal({ model: "m", messages: USER, stream: true }, "2023-06-01", "count_tokens").param).toBe("stream");
  });
});

describe("messagesRequestFromJson: content blocks", () => {
  it("keeps a text-block array as text parts", () => {
    const messages = [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }]);
  });

  it("turns base64 images into data URLs and passes URL images", () => {
    const messages = [
      {
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
          { type: "text", text: "What is this?" },
        ],
      },
    ];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          { type: "text", text: "What is this?" },
        ],
      },
    ]);
  });

  it("turns PDF documents into file parts and text documents into text", () => {
    const messages = [
      {
        role: "user",
        content: [
          { type: "document", title: "report.pdf", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "Plain notes" } },
        ],
      },
    ];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "report.pdf" } },
          { type: "text", text: "Plain notes" },
        ],
      },
    ]);
  });

  it("maps a tool-use turn and its tool_result turn, errors marked", () => {
    const messages = [
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "service down" }], is_error: true },
          { type: "text", text: "Summarise." },
        ],
      },
    ];
    expect(upstreamBody({ ...BASE, messages, tools: [WEATHER_TOOL] })).toEqual({
      model: "claude-x",
      max_tokens: 100,
      tools: [WEATHER_FUNCTION],
      messages: [
        { role: "user", content: "Weather in Paris and Rome?" },
        {
          role: "assistant",
          content: [{ type: "text", text: "Checking." }],
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18C" },
        { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "Error:" }, { type: "text", text: "service down" }] },
        { role: "user", content: [{ type: "text", text: "Summarise." }] },
      ],
    });
  });

  it("gives an assistant turn of tool_use blocks only no content, and drops thinking blocks", () => {
    const messages = [
      { role: "user", content: "Go" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "hmm", signature: "sig" },
          { type: "tool_use", id: "t1", name: "get_weather", input: {} },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", is_error: true }] },
    ];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([
      { role: "user", content: "Go" },
      { role: "assistant", tool_calls: [{ id: "t1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "t1", content: "Error: " },
    ]);
  });

  it("sends an empty tool_result content list as an empty string", () => {
    const messages = [
      { role: "user", content: "Go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [] }] },
    ];
    expect(upstreamBody({ ...BASE, messages }).messages).toContainEqual({ role: "tool", tool_call_id: "t1", content: "" });
  });

  it("allows an empty final assistant turn (a prefill) and a system turn", () => {
    const messages = [{ role: "system", content: "Sys" }, { role: "user", content: "Hi" }, { role: "assistant", content: "" }];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([
      { role: "system", content: "Sys" },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "" },
    ]);
  });

  it.each([
    [[{ role: "bot", content: "x" }], "messages[0].role"],
    [[{ content: "x" }], "messages[0].role"],
    [[{ role: "user", content: 5 }], "messages[0].content"],
    [[{ role: "user", content: "" }], "messages[0].content"],
    [[{ role: "user", content: [] }], "messages[0].content"],
    [[{ role: "user", content: [{ type: "text", text: "" }] }], "messages[0].content[0].text"],
    [[{ role: "user", content: [{ text: "x" }] }], "messages[0].content[0].type"],
    [[{ role: "user", content: [{ type: "audio", data: "x" }] }], "messages[0].content[0].type"],
    [[{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/bmp", data: "x" } }] }], "messages[0].content[0].source.media_type"],
    [[{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "f" } }] }], "messages[0].content[0].source.type"],
    [[{ role: "user", content: [{ type: "document", source: { type: "url", url: "https://x/a.pdf" } }] }], "messages[0].content[0].source.type"],
    [[{ role: "user", content: [{ type: "tool_use", id: "t", name: "n", input: {} }] }], "messages[0].content[0].type"],
    [[{ role: "user", content: "a" }, { role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: "x" }] }], "messages[1].content[0].input"],
    [[{ role: "user", content: "a" }, { role: "assistant", content: [{ type: "image", source: { type: "url", url: "u" } }] }], "messages[1].content[0].type"],
  ])("refuses %j, naming the field", (messages, param) => {
    expect(refusal({ ...BASE, messages }).param).toBe(param);
  });

  it("refuses a tool_result for an id the previous assistant turn did not use", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "n", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }, { type: "tool_result", tool_use_id: "t9" }] },
    ];
    const err = refusal({ ...BASE, messages });
    expect(err.param).toBe("messages[2].content[1].tool_use_id");
    expect(err.message).toContain("unexpected tool_use_id 't9'");
  });

  it("refuses two tool_results for one tool_use", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "n", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }, { type: "tool_result", tool_use_id: "t1" }] },
    ];
    expect(refusal({ ...BASE, messages }).param).toBe("messages[2].content[1].tool_use_id");
  });

  it("refuses a tool_result with no tool_use before it", () => {
    const err = refusal({ ...BASE, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "x" }] }] });
    expect(err.param).toBe("messages[0].content[0].tool_use_id");
  });

  it("refuses a tool_use left without its tool_result", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "n", input: {} }, { type: "tool_use", id: "t2", name: "n", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }] },
    ];
    const err = refusal({ ...BASE, messages });
    expect(err.param).toBe("messages[1]");
    expect(err.message).toContain("without tool_result blocks immediately after: t2");
  });

  it("refuses an image inside a tool_result (OpenAI tool messages are text only)", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "n", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "image", source: { type: "url", url: "u" } }] }] },
    ];
    expect(refusal({ ...BASE, messages }).param).toBe("messages[2].content[0].content[0].type");
  });

  it("refuses citations on user text blocks only from 2026-10-21 on", () => {
    const messages = [{ role: "user", content: [{ type: "text", text: "x", citations: [{ type: "char_location" }] }] }];
    expect(upstreamBody({ ...BASE, messages }).messages).toEqual([{ role: "user", content: [{ type: "text", text: "x" }] }]);
    expect(refusal({ ...BASE, messages }, "2026-10-21").param).toBe("messages[0].content[0].citations");
  });
});

describe("messagesRequestFromJson: tools and tool_choice", () => {
  it.each([
    [{ type: "auto" }, "auto", undefined],
    [{ type: "any" }, "required", undefined],
    [{ type: "none" }, "none", undefined],
    [{ type: "tool", name: "get_weather" }, { type: "function", function: { name: "get_weather" } }, undefined],
    [{ type: "auto", disable_parallel_tool_use: true }, "auto", false],
    [{ type: "any", disable_parallel_tool_use: false }, "required", undefined],
  ])("tool_choice %j → %j", (choice, expected, parallel) => {
    const body = upstreamBody({ ...BASE, tools: [WEATHER_TOOL], tool_choice: choice });
    expect(body.tools).toEqual([WEATHER_FUNCTION]);
    expect(body.tool_choice).toEqual(expected);
    expect(body.parallel_tool_calls).toBe(parallel);
  });

  it("passes strict and drops Anthropic-only tool hints", () => {
    const tool = { ...WEATHER_TOOL, strict: true, cache_control: { type: "ephemeral" }, type: "custom" };
    expect(upstreamBody({ ...BASE, tools: [tool] }).tools).toEqual([{ ...WEATHER_FUNCTION, function: { ...WEATHER_FUNCTION.function, strict: true } }]);
  });

  it("sends no tool_choice when there are no tools and the choice is auto or none", () => {
    expect(upstreamBody({ ...BASE, tool_choice: { type: "auto", disable_parallel_tool_use: true } })).toEqual(upstreamBody(BASE));
  });

  it.each([
    [{ tools: [{ type: "web_search_20250305", name: "web_search" }] }, "tools[0].type"],
    [{ tools: [{ name: "bad name", input_schema: { type: "object" } }] }, "tools[0].name"],
    [{ tools: [{ name: "t" }] }, "tools[0].input_schema"],
    [{ tools: [{ name: "t", input_schema: { type: "string" } }] }, "tools[0].input_schema.type"],
    [{ tools: [WEATHER_TOOL, WEATHER_TOOL] }, "tools[1].name"],
    [{ tools: [WEATHER_TOOL], tool_choice: { type: "tool", name: "other" } }, "tool_choice.name"],
    [{ tools: [WEATHER_TOOL], tool_choice: { type: "sometimes" } }, "tool_choice.type"],
    [{ tool_choice: { type: "any" } }, "tool_choice"],
    [{ tools: [WEATHER_TOOL], tool_choice: "auto" }, "tool_choice"],
  ])("refuses %j", (fields, param) => {
    expect(refusal({ ...BASE, ...fields }).param).toBe(param);
  });
});
