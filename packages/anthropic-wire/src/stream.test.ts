import { chatChunkFromJson } from "@llmmesh/openai-wire";
import { describe, expect, it } from "vitest";
import { MessageStreamTranslator, type MessageStreamEvent } from "./stream.js";

type Json = Record<string, unknown>;

const ENVELOPE = { id: "chatcmpl-S1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini" };

function chunk(delta: Json, finishReason: string | null = null, extra: Json = {}): Json {
  return { ...ENVELOPE, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...extra }] };
}

const USAGE_CHUNK = { ...ENVELOPE, choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } };

/** Every event a stream of OpenAI chunks becomes. */
function translate(chunks: Json[], stopSequences: string[] = []): MessageStreamEvent[] {
  const translator = new MessageStreamTranslator(stopSequences);
  return [...chunks.flatMap((c) => translator.push(chatChunkFromJson(c))), ...translator.end()];
}

const MESSAGE_START = {
  type: "message_start",
  message: {
    model: "gpt-4o-mini",
    id: "msg_S1",
    type: "message",
    role: "assistant",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    stop_details: null,
    usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
  },
};
const FINAL_USAGE = { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 5 };

describe("MessageStreamTranslator", () => {
  it("streams text in Anthropic's event order", () => {
    const events = translate([
      chunk({ role: "assistant", content: "", refusal: null }),
      chunk({ content: "Hello" }),
      chunk({ content: " world" }),
      chunk({}, "stop"),
      USAGE_CHUNK,
    ]);
    expect(events).toEqual([
      MESSAGE_START,
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "ping" },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " world" } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null, stop_details: null }, usage: FINAL_USAGE },
      { type: "message_stop" },
    ]);
  });

  it("streams text then two tool calls as separate blocks with input_json_delta", () => {
    const events = translate([
      chunk({ role: "assistant", content: "On it." }),
      chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "{}" } }] }),
      chunk({}, "tool_calls"),
      USAGE_CHUNK,
    ]);
    expect(events).toEqual([
      MESSAGE_START,
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "ping" },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "On it." } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "call_a", name: "get_weather", input: {} } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"city":' } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"Paris"}' } },
      { type: "content_block_stop", index: 1 },
      { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "call_b", name: "get_time", input: {} } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: "{}" } },
      { type: "content_block_stop", index: 2 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null, stop_details: null }, usage: FINAL_USAGE },
      { type: "message_stop" },
    ]);
  });

  it("writes message_start and message_delta with their keys in Anthropic's order", () => {
    const events = translate([chunk({ content: "a" }), chunk({}, "stop"), USAGE_CHUNK]);
    // As Anthropic's own streams write them (model first; stop_details after stop_sequence).
    expect(JSON.stringify(events[0])).toBe(JSON.stringify(MESSAGE_START));
    expect(JSON.stringify(events.at(-2))).toBe(
      JSON.stringify({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null, stop_details: null }, usage: FINAL_USAGE }),
    );
  });

  it("keeps one tool_use block when an upstream repeats the call's id on every fragment", () => {
    const fragment = (args: string) => chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: args } }] });
    const events = translate([fragment('{"city":'), fragment('"Paris"}'), chunk({}, "tool_calls"), USAGE_CHUNK]);
    expect(events.filter((e) => e.type === "content_block_start")).toEqual([
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "call_a", name: "get_weather", input: {} } },
    ]);
    expect(events.filter((e) => e.type === "content_block_delta").map((e) => (e.delta as Json).partial_json)).toEqual(['{"city":', '"Paris"}']);
  });

  it("maps length to max_tokens and an upstream-named stop sequence to stop_sequence", () => {
    const cut = translate([chunk({ content: "a" }), chunk({}, "length"), USAGE_CHUNK]);
    expect(cut.at(-2)).toMatchObject({ delta: { stop_reason: "max_tokens", stop_sequence: null } });
    const stopped = translate([chunk({ content: "a" }), chunk({}, "stop", { stop_reason: "###" }), USAGE_CHUNK], ["###"]);
    expect(stopped.at(-2)).toMatchObject({ delta: { stop_reason: "stop_sequence", stop_sequence: "###" } });
  });

  it("ends with end_turn when a choice's extra fields (from an adapter other than OpenAI's) are not a JSON object", () => {
    for (const extraJson of ["null", "[]", '"stop"']) {
      const translator = new MessageStreamTranslator(["###"]);
      const last = chatChunkFromJson(chunk({ content: "a" }, "stop"));
      for (const choice of last.choices) choice.extraJson = extraJson;
      translator.push(last);
      expect(translator.end().at(-2)).toMatchObject({ delta: { stop_reason: "end_turn", stop_sequence: null } });
    }
  });

  it("streams a refusal as text and reports stop_reason refusal", () => {
    const events = translate([chunk({ role: "assistant", content: null, refusal: "No." }), chunk({}, "stop"), USAGE_CHUNK]);
    expect(events[3]).toEqual({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "No." } });
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: "refusal", stop_details: { type: "refusal", category: null, explanation: null } } });
  });

  it("still opens, pings and closes the message for an empty answer", () => {
    expect(translate([chunk({ role: "assistant", content: "" }, "stop")]).map((e) => e.type)).toEqual([
      "message_start",
      "ping",
      "message_delta",
      "message_stop",
    ]);
  });

  it("ignores choices other than the first", () => {
    const events = translate([{ ...ENVELOPE, choices: [{ index: 1, delta: { content: "other" }, finish_reason: null }] }, chunk({ content: "mine" }, "stop")]);
    expect(events.filter((e) => e.type === "content_block_delta")).toEqual([
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "mine" } },
    ]);
  });
});
