import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatResponseSchema, ChoiceSchema, MessageSchema, UsageSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { chatResponseFromJson, chatResponseToJson } from "./chat-response.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8")) as Json;
}

/** Upstream JSON → proto → protobuf binary (as between services) → client JSON. */
function roundTrip(json: Json): Json {
  const res = chatResponseFromJson(structuredClone(json));
  return chatResponseToJson(fromBinary(ChatResponseSchema, toBinary(ChatResponseSchema, res)));
}

const answer = (extra: Json = {}, message: Json = { role: "assistant", content: "Hi", refusal: null }): Json => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1741570283,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  ...extra,
});

describe("chatResponseFromJson / chatResponseToJson round trip", () => {
  it.each<[string, Json]>([
    ["tool calls, usage details, service tier, fingerprint", fixture("chat-completion-tool-calls.json")],
    ["logprobs, annotations, refusal, null finish_reason, null fingerprint", fixture("chat-completion-text.json")],
    ["minimal answer", answer()],
    ["usage: null and unknown top-level fields (Azure)", answer({
      usage: null,
      prompt_filter_results: [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: "safe" } } }],
    })],
    ["unknown choice and message fields (DeepSeek, Azure, vLLM)", {
      ...answer(),
      choices: [{
        index: 0,
        message: { role: "assistant", content: "4", refusal: null, reasoning_content: "2+2=4", tool_calls: [] },
        logprobs: null,
        finish_reason: "stop",
        content_filter_results: { violence: { filtered: false, severity: "safe" } },
      }],
    }],
    ["audio answer with content null", answer({}, {
      role: "assistant", content: null, refusal: null,
      audio: { id: "audio_abc", expires_at: 1729018505, data: "UklGRg==", transcript: "Hello" },
    })],
    ["legacy function_call answer", answer({}, {
      role: "assistant", content: null, function_call: { name: "f", arguments: "{\"a\":1}" }, refusal: null,
    })],
    ["unknown keys in a tool call and in its function", answer({}, {
      role: "assistant", content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}", x_fn: [1] }, x_call: { a: null } }],
      refusal: null,
    })],
    ["provider-specific usage counters", answer({
      usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_cache_hit_tokens: 8, prompt_cache_miss_tokens: 2 },
    })],
  ])("%s", (_name, json) => {
    expect(roundTrip(json)).toStrictEqual(json);
    // Byte for byte: the keys in the upstream's order too.
    expect(JSON.stringify(roundTrip(json))).toBe(JSON.stringify(json));
  });
});

describe("chatResponseFromJson modelling", () => {
  it("models tool calls and lifts cached and reasoning tokens into Usage", () => {
    const res = chatResponseFromJson(fixture("chat-completion-tool-calls.json"));
    expect(res.id).toBe("chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");
    expect(res.created).toBe(1741570283n);
    expect(res.systemFingerprint).toBe("fp_fc9f1d7035");
    expect(res.serviceTier).toBe("default");
    const choice = res.choices[0];
    expect(choice?.finishReason).toBe("tool_calls");
    expect(choice?.message?.content.case).toBeUndefined();
    expect(choice?.message?.toolCalls.map((c) => [c.id, c.name, JSON.parse(c.arguments)])).toEqual([
      ["call_7qGmTQm6vF3kcLPCrWqYpVYN", "get_current_weather", { location: "Boston, MA", unit: "celsius" }],
      ["call_Qm3x8yV0dFq2tLq9c4m1Jk7P", "get_current_weather", { location: "Paris, France", unit: "celsius" }],
    ]);
    expect(JSON.parse(choice?.message?.extraJson ?? "")).toEqual({ annotations: [] });
    expect([res.usage?.promptTokens, res.usage?.completionTokens, res.usage?.totalTokens]).toEqual([82n, 56n, 138n]);
    expect(res.usage?.cachedTokens).toBe(64n);

    const text = chatResponseFromJson(fixture("chat-completion-text.json"));
    expect(text.usage?.reasoningTokens).toBe(192n);
    expect(text.usage?.cachedTokens).toBe(0n);
    expect(text.choices[1]?.message?.refusal).toBe("I'm sorry, I can't help with that.");
    expect(text.choices[2]?.finishReason).toBeUndefined();
    expect(text.systemFingerprint).toBeUndefined();
  });

  it("reads lenient upstream answers: missing role, arguments as an object, missing tool call type", () => {
    const res = chatResponseFromJson(answer({}, {
      content: null,
      tool_calls: [{ id: "c", function: { name: "f", arguments: { city: "Paris" } } }],
    }));
    const msg = res.choices[0]?.message;
    expect(msg?.role).toBe("assistant");
    expect(msg?.toolCalls[0]).toMatchObject({ id: "c", type: "function", name: "f", arguments: "{\"city\":\"Paris\"}" });
  });
});

describe("chatResponseToJson for answers built by other adapters", () => {
  it("renders OpenAI's always-present fields as null and synthesises usage details", () => {
    const res = create(ChatResponseSchema, {
      id: "msg_01", created: 1700000000n, model: "claude-3-5-haiku-latest",
      choices: [create(ChoiceSchema, { index: 0n, message: create(MessageSchema, { role: "assistant" }) })],
      usage: create(UsageSchema, { promptTokens: 10n, completionTokens: 3n, totalTokens: 13n, cachedTokens: 4n, reasoningTokens: 2n }),
    });
    expect(chatResponseToJson(res)).toStrictEqual({
      id: "msg_01", object: "chat.completion", created: 1700000000, model: "claude-3-5-haiku-latest",
      choices: [{ index: 0, message: { role: "assistant", content: null, refusal: null }, logprobs: null, finish_reason: null }],
      usage: {
        prompt_tokens: 10, completion_tokens: 3, total_tokens: 13,
        prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 },
      },
    });
  });
});

describe("chatResponseFromJson rejects what is not a chat completion", () => {
  it.each<[string, unknown, string | undefined, string]>([
    ["a string", "oops", undefined, "JSON object"],
    ["an OpenAI error body", { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }, undefined, "Rate limit reached"],
    ["an embeddings list", { object: "list", data: [] }, "object", "list"],
    ["no choices", { id: "x", object: "chat.completion" }, "choices", "choices"],
    ["a choice without message", answer({ choices: [{ index: 0, finish_reason: "stop" }] }), "choices[0].message", "message"],
    ["a fractional created", answer({ created: 1.5 }), "created", "integer"],
    ["a string usage count", answer({ usage: { prompt_tokens: "5", completion_tokens: 1, total_tokens: 6 } }), "usage.prompt_tokens", "integer"],
    ["numeric content", answer({}, { role: "assistant", content: 5 }), "choices[0].message.content", "string"],
  ])("%s", (_name, json, param, text) => {
    let caught: unknown;
    try {
      chatResponseFromJson(json);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
    expect((caught as WireError).message).toContain(text);
  });
});
