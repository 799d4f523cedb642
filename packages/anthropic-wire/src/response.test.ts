import { chatResponseFromJson, WireError } from "@llmmesh/openai-wire";
import { describe, expect, it } from "vitest";
import { messageResponseToJson } from "./response.js";

type Json = Record<string, unknown>;

/** An OpenAI chat completion with one choice. */
function completion(message: Json, finishReason: string | null, choiceExtra: Json = {}): Json {
  return {
    id: "chatcmpl-AbC123",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason, ...choiceExtra }],
    usage: { prompt_tokens: 30, completion_tokens: 7, total_tokens: 37, prompt_tokens_details: { cached_tokens: 10 } },
  };
}

function render(json: Json, stopSequences: string[] = []): Json {
  return messageResponseToJson(chatResponseFromJson(json), stopSequences) as unknown as Json;
}

describe("messageResponseToJson", () => {
  it("renders a text answer with Anthropic's envelope and usage (cached tokens apart)", () => {
    const expected = {
      model: "gpt-4o-mini",
      id: "msg_AbC123",
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      stop_details: null,
      usage: { input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 10, output_tokens: 7 },
    };
    const rendered = render(completion({ role: "assistant", content: "Hello!", refusal: null }, "stop"));
    expect(rendered).toEqual(expected);
    // Byte for byte, in the key order of Anthropic's own answers.
    expect(JSON.stringify(rendered)).toBe(JSON.stringify(expected));
  });

  it("renders tool calls as tool_use blocks with parsed input, after any text", () => {
    const message = {
      role: "assistant",
      content: "Let me check.",
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
      ],
    };
    const json = render(completion(message, "tool_calls"));
    expect(json.content).toEqual([
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_2", name: "get_time", input: {} },
    ]);
    expect(json.stop_reason).toBe("tool_use");
  });

  it.each([
    ["length", "max_tokens"],
    ["stop", "end_turn"],
    ["content_filter", "refusal"],
    [null, "end_turn"],
  ])("maps finish_reason %s to stop_reason %s", (finish, stop) => {
    expect(render(completion({ role: "assistant", content: "x" }, finish)).stop_reason).toBe(stop);
  });

  it("reports tool_use when a server ends a tool call with 'stop'", () => {
    const message = { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] };
    expect(render(completion(message, "stop")).stop_reason).toBe("tool_use");
  });

  it("names the stop sequence when the upstream reports it (vLLM's choice stop_reason)", () => {
    const json = render(completion({ role: "assistant", content: "x" }, "stop", { stop_reason: "END" }), ["END"]);
    expect(json).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END" });
    // A reported reason that is not one of the client's sequences (a token id, say) says nothing.
    expect(render(completion({ role: "assistant", content: "x" }, "stop", { stop_reason: 128009 }), ["END"])).toMatchObject({
      stop_reason: "end_turn",
      stop_sequence: null,
    });
  });

  it("renders a refusal as text with stop_reason refusal", () => {
    const json = render(completion({ role: "assistant", content: null, refusal: "I can't help with that." }, "stop"));
    expect(json).toMatchObject({
      content: [{ type: "text", text: "I can't help with that." }],
      stop_reason: "refusal",
      stop_details: { type: "refusal", category: null, explanation: null },
    });
  });

  it("renders an empty answer as no blocks", () => {
    expect(render(completion({ role: "assistant", content: "" }, "stop")).content).toEqual([]);
  });

  it("refuses tool arguments that are not a JSON object", () => {
    const message = { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] };
    expect(() => render(completion(message, "tool_calls"))).toThrow(WireError);
    const list = { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1]" } }] };
    expect(() => render(completion(list, "tool_calls"))).toThrow(/not a JSON object/);
  });
});
