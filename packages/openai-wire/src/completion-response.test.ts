import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CompletionChoiceSchema, CompletionChunkSchema, CompletionResponseSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { completionChunkFromJson, completionChunkToJson, completionResponseFromJson, completionResponseToJson } from "./completion-response.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

/** OpenAI's documented answer shape, with logprobs as `logprobs: 1` asks for them. */
const ANSWER: Json = {
  id: "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
  object: "text_completion",
  created: 1589478378,
  model: "gpt-3.5-turbo-instruct",
  system_fingerprint: "fp_44709d6fcb",
  choices: [
    { text: "\n\nThis is indeed a test", index: 0, logprobs: null, finish_reason: "length" },
    {
      text: " test",
      index: 1,
      logprobs: { tokens: [" test"], token_logprobs: [-0.25], top_logprobs: [{ " test": -0.25, " trial": -1.75 }], text_offset: [18] },
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
};

/** A stream as OpenAI sends it with `stream_options.include_usage`. */
const STREAM: Json[] = [
  { id: "cmpl-7iA7", object: "text_completion", created: 1690759702, choices: [{ text: "This", index: 0, logprobs: null, finish_reason: null }], model: "gpt-3.5-turbo-instruct", system_fingerprint: null, usage: null },
  { id: "cmpl-7iA7", object: "text_completion", created: 1690759702, choices: [{ text: " is", index: 0, logprobs: null, finish_reason: "length" }], model: "gpt-3.5-turbo-instruct", system_fingerprint: null, usage: null },
  { id: "cmpl-7iA7", object: "text_completion", created: 1690759702, choices: [], model: "gpt-3.5-turbo-instruct", system_fingerprint: null, usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
];

describe("completionResponseFromJson / completionResponseToJson round trip", () => {
  it.each<[string, Json]>([
    ["OpenAI's answer with logprobs on one choice", ANSWER],
    ["unknown fields at every level and a null usage", {
      ...ANSWER, usage: null, warnings: ["w"],
      choices: [{ text: "", index: 0, logprobs: null, finish_reason: "stop", stop_reason: 50256 }],
    }],
  ])("%s", (_name, json) => {
    const res = completionResponseFromJson(structuredClone(json));
    expect(completionResponseToJson(fromBinary(CompletionResponseSchema, toBinary(CompletionResponseSchema, res)))).toStrictEqual(json);
  });

  it("models text, finish reasons and usage for accounting", () => {
    const res = completionResponseFromJson(ANSWER);
    expect(res.choices.map((c) => [c.index, c.text, c.finishReason])).toEqual([[0n, "\n\nThis is indeed a test", "length"], [1n, " test", "stop"]]);
    expect([res.usage?.promptTokens, res.usage?.completionTokens, res.usage?.totalTokens]).toEqual([5n, 7n, 12n]);
  });

  it("renders answers built by other adapters in OpenAI's shape", () => {
    const res = create(CompletionResponseSchema, {
      id: "cmpl-1", created: 1700000000n, model: "m",
      choices: [create(CompletionChoiceSchema, { index: 0n, text: "Hi" })],
    });
    expect(completionResponseToJson(res)).toStrictEqual({
      id: "cmpl-1", object: "text_completion", created: 1700000000, model: "m",
      choices: [{ text: "Hi", index: 0, logprobs: null, finish_reason: null }],
    });
  });

  it("writes a choice's keys in OpenAI's order, text first", () => {
    const res = completionResponseFromJson(structuredClone(ANSWER));
    const rendered = completionResponseToJson(res) as { choices: object[] };
    expect(rendered.choices.map((c) => Object.keys(c))).toEqual((ANSWER.choices as object[]).map((c) => Object.keys(c)));
    expect(Object.keys(rendered.choices[0] ?? {})[0]).toBe("text");
  });
});

describe("completionChunkFromJson / completionChunkToJson round trip", () => {
  it.each(STREAM.map((chunk, i): [string, Json] => [`chunk ${i}`, chunk]))("%s", (_name, json) => {
    const chunk = completionChunkFromJson(structuredClone(json));
    expect(completionChunkToJson(fromBinary(CompletionChunkSchema, toBinary(CompletionChunkSchema, chunk)))).toStrictEqual(json);
  });

  it("models the final usage chunk", () => {
    const last = completionChunkFromJson(STREAM[2]);
    expect(last.choices).toHaveLength(0);
    expect(last.usage?.totalTokens).toBe(6n);
    expect(completionChunkFromJson(STREAM[0]).usage).toBeUndefined();
  });
});

describe("completion parsers reject what is not a text completion", () => {
  it.each<[string, (json: unknown) => unknown, unknown, string | undefined]>([
    ["an answer that is an array", completionResponseFromJson, [], undefined],
    ["an upstream error body", completionResponseFromJson, { error: { message: "This is a chat model" } }, undefined],
    ["a chat completion", completionResponseFromJson, { ...ANSWER, object: "chat.completion" }, "object"],
    ["an answer without choices", completionResponseFromJson, { id: "x", object: "text_completion" }, "choices"],
    ["a numeric text", completionResponseFromJson, { id: "x", choices: [{ index: 0, text: 1 }] }, "choices[0].text"],
    ["a negative index", completionResponseFromJson, { id: "x", choices: [{ index: -1, text: "" }] }, "choices[0].index"],
    ["a chat chunk", completionChunkFromJson, { id: "c", object: "chat.completion.chunk", choices: [] }, "object"],
    ["a chunk with neither choices nor usage", completionChunkFromJson, { id: "c", object: "text_completion" }, "choices"],
    ["a mid-stream error event", completionChunkFromJson, { error: { message: "overloaded" } }, undefined],
  ])("%s", (_name, parse, json, param) => {
    let caught: unknown;
    try {
      parse(json);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
  });
});
