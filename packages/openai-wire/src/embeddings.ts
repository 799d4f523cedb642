/**
 * `/v1/embeddings` requests and answers ⇄ `EmbedRequest` / `EmbedResponse`.
 * Vectors stay doubles end to end (a JSON number parsed and re-serialised by
 * V8 prints the same digits), and base64 vectors stay the upstream's string.
 */
import { create } from "@bufbuild/protobuf";
import {
  EmbeddingSchema,
  EmbedRequestSchema,
  EmbedResponseSchema,
  type Embedding,
  type EmbedRequest,
  type EmbedResponse,
} from "@llmmesh/proto";
import { WireError } from "./errors.js";
import { ignored, nullKept, readFields, type FieldReaders } from "./fields.js";
import {
  childParam,
  expectAnswer,
  expectArray,
  expectInteger,
  expectObject,
  expectString,
  ExtraFields,
  indexOrPosition,
  int64ToNumber,
  isObject,
  mergeExtra,
  unmodelledKeys,
  type AnswerKind,
} from "./guards.js";
import { textInputFromJson, textInputToJson } from "./text-input.js";
import type { EmbeddingJson, EmbeddingRequestJson, EmbeddingResponseJson } from "./types.js";
import { usageFromJson, usageToJson } from "./usage.js";

const ENCODING_FORMATS: ReadonlySet<string> = new Set(["float", "base64"]);

/**
 * Parses and validates a client's `/v1/embeddings` body. `input` may be a
 * string, strings, one token list or several token lists; anything else
 * (including an empty array, whose kind cannot be told) is a WireError.
 */
export function embedRequestFromJson(body: unknown): EmbedRequest {
  if (!isObject(body)) throw new WireError("The request body must be a JSON object.");
  const req = create(EmbedRequestSchema);
  const extra = new ExtraFields();
  let hasModel = false;
  let hasInput = false;
  for (const key of Object.keys(body)) {
    const v = body[key];
    if (v === null && key !== "model" && key !== "input") {
      extra.set(key, null);
      continue;
    }
    switch (key) {
      case "model":
        req.model = expectString(v, key);
        if (req.model.length === 0) throw new WireError("Invalid 'model': expected a non-empty string.", key);
        hasModel = true;
        break;
      case "input":
        req.input = textInputFromJson(v, key);
        hasInput = true;
        break;
      case "dimensions":
        req.dimensions = expectInteger(v, key, { min: 1 });
        break;
      case "encoding_format": {
        const format = expectString(v, key);
        if (!ENCODING_FORMATS.has(format)) {
          throw new WireError(`Invalid 'encoding_format': expected 'float' or 'base64', got '${format}'.`, key);
        }
        req.encodingFormat = format;
        break;
      }
      case "user":
        req.user = expectString(v, key);
        break;
      default:
        extra.set(key, v);
    }
  }
  if (!hasModel) throw new WireError("Missing required parameter: 'model'.", "model");
  if (!hasInput) throw new WireError("Missing required parameter: 'input'.", "input");
  req.extraJson = extra.toJson();
  return req;
}

/** The upstream body for an embeddings call: modelled fields plus `extraJson`, `model` from `req.model`. */
export function embedRequestToJson(req: EmbedRequest): Record<string, unknown> {
  const out: EmbeddingRequestJson = { model: req.model, input: textInputToJson(req.input) };
  if (req.dimensions !== undefined) out.dimensions = int64ToNumber(req.dimensions);
  if (req.encodingFormat !== undefined) out.encoding_format = req.encodingFormat;
  if (req.user !== undefined) out.user = req.user;
  return mergeExtra(out, req.extraJson);
}

const EMBEDDINGS_ANSWER: AnswerKind = { name: "an embeddings answer", object: "list", list: "data", insteadOf: "embeddings" };

/** Explicit nulls are kept in `extraJson`, so they render back as sent. */
const RESPONSE_READERS: FieldReaders<EmbedResponse> = {
  object: ignored, // always rendered as "list"
  data: (m, v, p) => { m.data = expectArray(v, p).map((e, i) => embeddingFromJson(e, childParam(p, i), i)); },
  model: nullKept((m, v, p) => { m.model = expectString(v, p); }),
  usage: nullKept((m, v, p) => { m.usage = usageFromJson(v, p, "embeddings"); }),
};

/** Parses an upstream embeddings answer; throws WireError if it is not one. */
export function embedResponseFromJson(json: unknown): EmbedResponse {
  return readFields(expectAnswer(json, EMBEDDINGS_ANSWER), create(EmbedResponseSchema), RESPONSE_READERS);
}

function embeddingFromJson(value: unknown, param: string, position: number): Embedding {
  const json = expectObject(value, param);
  const index = indexOrPosition(json, param, position);
  const unknown = unmodelledKeys(json, ["object", "index", "embedding"]);
  const extraJson = unknown === undefined ? "" : JSON.stringify(unknown);
  const vector = json.embedding;
  const p = childParam(param, "embedding");
  if (typeof vector === "string") return create(EmbeddingSchema, { index, base64: vector, extraJson });
  const list = expectArray(vector, p);
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== "number") throw new WireError(`Invalid '${p}[${i}]': expected a number.`, `${p}[${i}]`);
  }
  return create(EmbeddingSchema, { index, vector: list as number[], extraJson });
}

/** Renders an embeddings answer for a client (`"object":"list"`). */
export function embedResponseToJson(res: EmbedResponse): Record<string, unknown> {
  const out: EmbeddingResponseJson = {
    object: "list",
    data: res.data.map(embeddingToJson),
    model: res.model,
  };
  if (res.usage !== undefined) out.usage = usageToJson(res.usage, "embeddings");
  return mergeExtra(out, res.extraJson);
}

function embeddingToJson(e: Embedding): EmbeddingJson {
  return mergeExtra({ object: "embedding", index: int64ToNumber(e.index), embedding: e.base64 ?? e.vector }, e.extraJson);
}
