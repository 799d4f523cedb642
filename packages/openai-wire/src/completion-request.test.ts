import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CompletionRequestSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { completionRequestFromJson, completionRequestToJson } from "./completion-request.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

/** Client JSON → proto → protobuf binary (as between services) → upstream JSON. */
function roundTrip(body: Json): Json {
  const { request } = completionRequestFromJson(structuredClone(body));
  return completionRequestToJson(fromBinary(CompletionRequestSchema, toBinary(CompletionRequestSchema, request)));
}

const minimal = (extra: Json = {}): Json => ({ model: "gpt-3.5-turbo-instruct", prompt: "Say this is a test", ...extra });

describe("completionRequestFromJson / completionRequestToJson round trip", () => {
  it.each<[string, Json, string | undefined]>([
    ["a string prompt", minimal(), "text"],
    ["a list of prompts", minimal({ prompt: ["one", "", "ü 👋"] }), "texts"],
    ["a token prompt", minimal({ prompt: [1820, 25977, 0] }), "tokens"],
    ["token prompts", minimal({ prompt: [[1820, 25977], [], [42]] }), "tokenLists"],
    ["a null prompt (the upstream's default)", minimal({ prompt: null }), undefined],
    ["every modelled field", minimal({
      max_tokens: 7, temperature: 0.2, top_p: 1, n: 2, stop: ["\n", "END"], seed: -42, logprobs: 5, echo: true,
      suffix: " and so on.", best_of: 3, presence_penalty: -1.5, frequency_penalty: 0.5, logit_bias: { "50256": -100 }, user: "u-1",
    }), "text"],
    ["stop as a string, max_tokens 0 (score the prompt only)", minimal({ stop: "\n", max_tokens: 0, echo: true, logprobs: 0 }), "text"],
    ["values the proto cannot express: nulls and an empty stop list", minimal({ stop: [], suffix: null, logprobs: null, max_tokens: null }), "text"],
    ["unknown fields (vLLM's, a provider's)", minimal({ min_tokens: 3, guided_json: { type: "object" }, repetition_penalty: 1.1 }), "text"],
  ])("%s", (_name, body, promptCase) => {
    expect(completionRequestFromJson(structuredClone(body)).request.prompt.case).toBe(promptCase);
    expect(roundTrip(body)).toStrictEqual(body);
  });

  it("returns stream and include_usage apart and never sends them upstream", () => {
    const body = minimal({ stream: true, stream_options: { include_usage: true } });
    const parsed = completionRequestFromJson(body);
    expect(parsed.stream).toBe(true);
    expect(parsed.request.includeUsage).toBe(true);
    expect(completionRequestToJson(parsed.request)).toStrictEqual(minimal());
    expect(completionRequestFromJson(minimal({ stream: null, stream_options: null })).stream).toBe(false);
  });

  it("models the fields the router and adapters read", () => {
    const { request } = completionRequestFromJson(minimal({ max_tokens: 16, n: 3, logprobs: 2, echo: true, suffix: "!" }));
    expect(request).toMatchObject({ model: "gpt-3.5-turbo-instruct", maxTokens: 16n, n: 3n, logprobs: 2n, echo: true, suffix: "!", extraJson: "" });
  });
});

describe("completionRequestFromJson validation", () => {
  it.each<[string, unknown, string | undefined]>([
    ["body an array", [minimal()], undefined],
    ["body a string", "prompt", undefined],
    ["model missing", { prompt: "x" }, "model"],
    ["model null", { model: null, prompt: "x" }, "model"],
    ["model empty", { model: "", prompt: "x" }, "model"],
    ["model too long", { model: "m".repeat(10_000), prompt: "x" }, "model"],
    ["prompt missing", { model: "m" }, "prompt"],
    ["prompt a number", minimal({ prompt: 5 }), "prompt"],
    ["prompt an object", minimal({ prompt: { text: "x" } }), "prompt"],
    ["prompt an empty list", minimal({ prompt: [] }), "prompt"],
    ["prompt strings mixed with a number", minimal({ prompt: ["a", 1] }), "prompt[1]"],
    ["prompt a negative token", minimal({ prompt: [5, -1] }), "prompt[1]"],
    ["prompt a token list with a string", minimal({ prompt: [[1], [2, "x"]] }), "prompt[1][1]"],
    ["max_tokens negative", minimal({ max_tokens: -1 }), "max_tokens"],
    ["max_tokens fractional", minimal({ max_tokens: 1.5 }), "max_tokens"],
    ["max_tokens a string", minimal({ max_tokens: "16" }), "max_tokens"],
    ["temperature above 2", minimal({ temperature: 2.5 }), "temperature"],
    ["top_p above 1", minimal({ top_p: 1.01 }), "top_p"],
    ["n zero", minimal({ n: 0 }), "n"],
    ["stop a number", minimal({ stop: 1 }), "stop"],
    ["five stop sequences", minimal({ stop: ["a", "b", "c", "d", "e"] }), "stop"],
    ["a stop sequence not a string", minimal({ stop: ["a", 2] }), "stop[1]"],
    ["seed fractional", minimal({ seed: 0.5 }), "seed"],
    ["logprobs a boolean (chat's form)", minimal({ logprobs: true }), "logprobs"],
    ["logprobs negative", minimal({ logprobs: -1 }), "logprobs"],
    ["echo a string", minimal({ echo: "yes" }), "echo"],
    ["suffix a number", minimal({ suffix: 1 }), "suffix"],
    ["best_of negative", minimal({ best_of: -2 }), "best_of"],
    ["presence_penalty a string", minimal({ presence_penalty: "1" }), "presence_penalty"],
    ["frequency_penalty infinite (from a number too large)", minimal({ frequency_penalty: Number.POSITIVE_INFINITY }), "frequency_penalty"],
    ["logit_bias a list", minimal({ logit_bias: [1] }), "logit_bias"],
    ["logit_bias with a string bias", minimal({ logit_bias: { "50256": "-100" } }), "logit_bias.50256"],
    ["user a number", minimal({ user: 7 }), "user"],
    ["stream a string", minimal({ stream: "true" }), "stream"],
    ["stream_options a list", minimal({ stream: true, stream_options: [] }), "stream_options"],
    ["stream_options without stream", minimal({ stream_options: { include_usage: true } }), "stream_options"],
    ["stream_options with stream null", minimal({ stream: null, stream_options: { include_usage: false } }), "stream_options"],
    ["include_usage a string", minimal({ stream: true, stream_options: { include_usage: "yes" } }), "stream_options.include_usage"],
  ])("%s → param %s", (_name, body, param) => {
    let caught: unknown;
    try {
      completionRequestFromJson(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
  });
});
