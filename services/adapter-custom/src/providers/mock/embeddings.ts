import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { EmbedResponseSchema, UsageSchema, type EmbedRequest, type EmbedResponse } from "@llmmesh/proto";
import { wordCount } from "./content.js";

/** Vector size when the request names no `dimensions`. */
export const DEFAULT_DIMENSIONS = 8;
const MAX_DIMENSIONS = 8_192;

/**
 * The mock's embedding of one input: a unit vector derived from a SHA-256 of
 * the input, at float32 precision, so the float and base64 forms agree exactly
 * and equal inputs always embed equally.
 */
export function mockVector(input: string | readonly bigint[], dimensions: number): number[] {
  const seed = typeof input === "string" ? `text:${input}` : `tokens:${input.join(",")}`;
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash("sha256").update(`${seed}#${block}`).digest();
    for (let i = 0; i + 1 < digest.length && raw.length < dimensions; i += 2) raw.push(digest.readUInt16LE(i) / 32767.5 - 1);
  }
  const norm = Math.sqrt(raw.reduce((sum, v) => sum + v * v, 0)) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

/** A vector in OpenAI's base64 form: float32 little-endian bytes. */
export function vectorToBase64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString("base64");
}

/** The mock's answer to an embeddings request. */
export function mockEmbed(model: string, request: EmbedRequest): EmbedResponse {
  const dimensions = request.dimensions === undefined ? DEFAULT_DIMENSIONS : Number(request.dimensions);
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    throw meshError(Code.InvalidArgument, `dimensions must be from 1 to ${MAX_DIMENSIONS}`, { reason: Reason.InvalidRequest, param: "dimensions" });
  }
  const inputs = inputsOf(request);
  if (inputs.length === 0) throw meshError(Code.InvalidArgument, "input must not be empty", { reason: Reason.InvalidRequest, param: "input" });
  const base64 = request.encodingFormat === "base64";
  const tokens = inputs.reduce<number>((sum, input) => sum + (typeof input === "string" ? wordCount(input) : input.length), 0);
  return create(EmbedResponseSchema, {
    model,
    data: inputs.map((input, index) => {
      const vector = mockVector(input, dimensions);
      return base64 ? { index: BigInt(index), base64: vectorToBase64(vector) } : { index: BigInt(index), vector };
    }),
    usage: create(UsageSchema, { promptTokens: BigInt(tokens), totalTokens: BigInt(tokens) }),
  });
}

function inputsOf(request: EmbedRequest): Array<string | readonly bigint[]> {
  const { input } = request;
  switch (input.case) {
    case "text":
      return [input.value];
    case "texts":
      return input.value.values;
    case "tokens":
      return [input.value.tokens];
    case "tokenLists":
      return input.value.lists.map((list) => list.tokens);
    default:
      return [];
  }
}
