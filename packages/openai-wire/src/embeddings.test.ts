import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EmbedRequestSchema, EmbedResponseSchema, EmbeddingSchema, UsageSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { embedRequestFromJson, embedRequestToJson, embedResponseFromJson, embedResponseToJson } from "./embeddings.js";
import { WireError } from "./errors.js";

type Json = Record<string, unknown>;

function fixtureText(name: string): string {
  return readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");
}

describe("embedRequestFromJson / embedRequestToJson round trip", () => {
  it.each<[string, Json, string]>([
    ["one string", { model: "text-embedding-3-small", input: "The food was delicious." }, "text"],
    ["strings", { model: "text-embedding-3-small", input: ["a", "", "ü 👋"], encoding_format: "float" }, "texts"],
    ["token ids", { model: "text-embedding-ada-002", input: [1820, 25977, 0, 100255] }, "tokens"],
    ["token id lists", { model: "text-embedding-ada-002", input: [[1820, 25977], [], [42]] }, "tokenLists"],
    ["dimensions, base64, user and unknown fields", {
      model: "text-embedding-3-large", input: "x", dimensions: 256, encoding_format: "base64", user: "u-1",
      input_type: "query", truncate: null,
    }, "text"],
  ])("%s", (_name, body, inputCase) => {
    const req = embedRequestFromJson(structuredClone(body));
    expect(req.input.case).toBe(inputCase);
    const copy = fromBinary(EmbedRequestSchema, toBinary(EmbedRequestSchema, req));
    expect(embedRequestToJson(copy)).toStrictEqual(body);
  });
});

describe("embedRequestFromJson validation", () => {
  it.each<[string, unknown, string | undefined]>([
    ["body an array", ["x"], undefined],
    ["model missing", { input: "x" }, "model"],
    ["model empty", { model: "", input: "x" }, "model"],
    ["input missing", { model: "m" }, "input"],
    ["input null", { model: "m", input: null }, "input"],
    ["input a number", { model: "m", input: 5 }, "input"],
    ["input empty", { model: "m", input: [] }, "input"],
    ["input of objects", { model: "m", input: [{ text: "x" }] }, "input[0]"],
    ["strings mixed with numbers", { model: "m", input: ["a", 1] }, "input[1]"],
    ["a fractional token", { model: "m", input: [1, 2.5] }, "input[1]"],
    ["a negative token", { model: "m", input: [-1] }, "input[0]"],
    ["a token list with a string", { model: "m", input: [[1], [2, "x"]] }, "input[1][1]"],
    ["token lists mixed with a number", { model: "m", input: [[1], 2] }, "input[1]"],
    ["dimensions zero", { model: "m", input: "x", dimensions: 0 }, "dimensions"],
    ["encoding_format unknown", { model: "m", input: "x", encoding_format: "hex" }, "encoding_format"],
    ["user a number", { model: "m", input: "x", user: 1 }, "user"],
  ])("%s → param %s", (_name, body, param) => {
    let caught: unknown;
    try {
      embedRequestFromJson(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
  });
});

describe("embedResponseFromJson / embedResponseToJson", () => {
  it.each(["embeddings-response.json", "embeddings-response-base64.json"])("%s round-trips byte for byte", (name) => {
    const text = fixtureText(name);
    const json = JSON.parse(text) as Json;
    const res = embedResponseFromJson(json);
    const copy = fromBinary(EmbedResponseSchema, toBinary(EmbedResponseSchema, res));
    const out = embedResponseToJson(copy);
    expect(out).toStrictEqual(json);
    // The serialised numbers are the upstream's digits, not float32 approximations.
    expect(JSON.stringify(out)).toBe(JSON.stringify(json));
  });

  it("models float vectors as doubles and base64 as strings", () => {
    const floats = embedResponseFromJson(JSON.parse(fixtureText("embeddings-response.json")));
    expect(floats.data[0]?.vector[0]).toBe(-0.006929283495992422);
    expect(floats.data[1]?.vector[2]).toBe(0.30000000000000004);
    expect(floats.data[0]?.base64).toBeUndefined();
    expect([floats.usage?.promptTokens, floats.usage?.totalTokens]).toEqual([8n, 8n]);
    const b64 = embedResponseFromJson(JSON.parse(fixtureText("embeddings-response-base64.json")));
    expect(b64.data[0]?.base64).toBe("AACAPwAAAEAAAEBAAACAQA==");
    expect(b64.data[0]?.vector).toEqual([]);
  });

  it("keeps fields OpenAI does not send (completion_tokens, id, per-vector fields) from compatible upstreams", () => {
    const json = {
      id: "emb-1", object: "list", model: "bge-m3",
      data: [{ object: "embedding", index: 0, embedding: [0.5], x_norm: 1 }],
      usage: { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 },
    };
    expect(embedResponseToJson(embedResponseFromJson(structuredClone(json)))).toStrictEqual(json);
  });

  it("renders answers built by other adapters in OpenAI's shape", () => {
    const res = create(EmbedResponseSchema, {
      model: "m",
      data: [create(EmbeddingSchema, { index: 0n, vector: [1, -2.5] })],
      usage: create(UsageSchema, { promptTokens: 3n, totalTokens: 3n }),
    });
    expect(embedResponseToJson(res)).toStrictEqual({
      object: "list",
      data: [{ object: "embedding", index: 0, embedding: [1, -2.5] }],
      model: "m",
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
  });

  it.each<[string, unknown, string | undefined]>([
    ["an error body", { error: { message: "Invalid model" } }, undefined],
    ["a chat completion", { object: "chat.completion", choices: [] }, "object"],
    ["no data", { object: "list", model: "m" }, "data"],
    ["a vector with a string", { object: "list", data: [{ index: 0, embedding: [0.1, "x"] }] }, "data[0].embedding[1]"],
    ["a missing vector", { object: "list", data: [{ index: 0 }] }, "data[0].embedding"],
  ])("rejects %s", (_name, json, param) => {
    let caught: unknown;
    try {
      embedResponseFromJson(json);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).param).toBe(param);
  });
});
