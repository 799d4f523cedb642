import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatChunkSchema, ChunkChoiceSchema, DeltaSchema, type ChatChunk } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { chatChunkFromJson, chatChunkToJson } from "./chat-chunk.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

function fixture(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8")) as Json[];
}

/** Upstream chunk → proto → protobuf binary (as between services) → client chunk. */
function roundTrip(json: Json): Json {
  const chunk = chatChunkFromJson(structuredClone(json));
  return chatChunkToJson(fromBinary(ChatChunkSchema, toBinary(ChatChunkSchema, chunk)));
}

const toolStream = fixture("chat-stream-tool-calls.json");
const textStream = fixture("chat-stream-text.json");

describe("chatChunkFromJson / chatChunkToJson round trip", () => {
  const cases: Array<[string, Json]> = [
    ...toolStream.map((c, i): [string, Json] => [`tool-call stream chunk ${i}`, c]),
    ...textStream.map((c, i): [string, Json] => [`text stream chunk ${i}`, c]),
    ["legacy function_call delta", {
      id: "c", object: "chat.completion.chunk", created: 1, model: "m",
      choices: [{ index: 0, delta: { function_call: { arguments: "{\"a\"" } }, logprobs: null, finish_reason: null }],
    }],
    ["unknown keys in a tool-call fragment and in its function", {
      id: "c", object: "chat.completion.chunk", created: 1, model: "m",
      choices: [{
        index: 0,
        delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "", x_fn: 1 }, x_call: "y" }] },
        logprobs: null,
        finish_reason: null,
      }],
    }],
    ["two choices (n=2)", {
      id: "c", object: "chat.completion.chunk", created: 1, model: "m",
      choices: [
        { index: 0, delta: { content: "A" }, logprobs: null, finish_reason: null },
        { index: 1, delta: { content: "B", refusal: null }, logprobs: null, finish_reason: "length" },
      ],
    }],
  ];

  it.each(cases)("%s", (_name, json) => {
    expect(roundTrip(json)).toStrictEqual(json);
    // Byte for byte: the keys in the upstream's order too.
    expect(JSON.stringify(roundTrip(json))).toBe(JSON.stringify(json));
  });
});

describe("chatChunkFromJson modelling", () => {
  it("models the role-first delta, tool-call fragments and the final usage chunk", () => {
    const chunks = toolStream.map(chatChunkFromJson);
    const first = chunks[0]?.choices[0]?.delta;
    expect(first?.role).toBe("assistant");
    expect(first?.content).toBeUndefined();
    expect(first?.toolCalls[0]).toMatchObject({ index: 0n, id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", type: "function", name: "get_weather", arguments: "" });

    // Fragments with the same index form one call: what a client assembling the stream sees.
    const calls = new Map<bigint, { name: string; args: string }>();
    for (const chunk of chunks) {
      for (const frag of chunk.choices[0]?.delta?.toolCalls ?? []) {
        const call = calls.get(frag.index) ?? { name: "", args: "" };
        call.name += frag.name ?? "";
        call.args += frag.arguments ?? "";
        calls.set(frag.index, call);
      }
    }
    expect([...calls.values()].map((c) => [c.name, JSON.parse(c.args)])).toEqual([
      ["get_weather", { location: "Paris, France" }],
      ["get_time", { tz: "Europe/Paris" }],
    ]);

    expect(chunks[6]?.choices[0]?.finishReason).toBe("tool_calls");
    const last = chunks[7] as ChatChunk;
    expect(last.choices).toHaveLength(0);
    expect([last.usage?.promptTokens, last.usage?.completionTokens, last.usage?.totalTokens]).toEqual([78n, 41n, 119n]);
    expect(chunks.slice(0, 7).every((c) => c.usage === undefined && JSON.parse(c.extraJson).usage === null)).toBe(true);
  });

  it("reads vLLM-style null fields in tool-call fragments as unset", () => {
    const chunk = chatChunkFromJson({
      id: "c", object: "chat.completion.chunk", created: 1, model: "m",
      choices: [{ index: 0, delta: { tool_calls: [{ id: null, type: null, index: 0, function: { name: null, arguments: "{\"x\"" } }] }, finish_reason: null }],
    });
    expect(chatChunkToJson(chunk).choices).toEqual([
      { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{\"x\"" } }] }, logprobs: null, finish_reason: null },
    ]);
  });
});

describe("chatChunkToJson for chunks built by other adapters", () => {
  it("always renders finish_reason and logprobs, and no usage key unless set", () => {
    const chunk = create(ChatChunkSchema, {
      id: "msg_1", created: 1700000000n, model: "claude",
      choices: [create(ChunkChoiceSchema, { index: 0n, delta: create(DeltaSchema, { content: "Hi" }) })],
    });
    expect(chatChunkToJson(chunk)).toStrictEqual({
      id: "msg_1", object: "chat.completion.chunk", created: 1700000000, model: "claude",
      choices: [{ index: 0, delta: { content: "Hi" }, logprobs: null, finish_reason: null }],
    });
  });
});

describe("chatChunkFromJson rejects what is not a chunk", () => {
  it.each<[string, unknown, string | undefined]>([
    ["an array", [], undefined],
    ["a mid-stream error event", { error: { message: "The server had an error", type: "server_error" } }, undefined],
    ["a complete answer", { object: "chat.completion", choices: [] }, "object"],
    ["neither choices nor usage", { id: "c", object: "chat.completion.chunk" }, "choices"],
    ["choices not an array", { id: "c", choices: {} }, "choices"],
    ["a numeric delta content", { id: "c", choices: [{ index: 0, delta: { content: 1 } }] }, "choices[0].delta.content"],
    ["a negative index", { id: "c", choices: [{ index: -1, delta: {} }] }, "choices[0].index"],
  ])("%s", (_name, json, param) => {
    let caught: unknown;
    try {
      chatChunkFromJson(json);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
  });

  it("quotes the upstream's error message", () => {
    expect(() => chatChunkFromJson({ error: { message: "The server had an error" } })).toThrow(/The server had an error/);
  });
});
