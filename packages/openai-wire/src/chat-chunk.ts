/**
 * Streamed chunks (`"object":"chat.completion.chunk"`) ⇄ `ChatChunk`.
 *
 * `finish_reason` and `logprobs` are always rendered (null when unset), as
 * OpenAI does. Every other explicit null — `"usage": null` on ordinary chunks
 * when the client asked for usage, `"content": null` and `"refusal": null`
 * in deltas, `"system_fingerprint": null` — is kept in the owning message's
 * `extraJson`, so a chunk renders exactly as the upstream sent it.
 */
import { create } from "@bufbuild/protobuf";
import {
  ChatChunkSchema,
  ChunkChoiceSchema,
  DeltaSchema,
  ToolCallDeltaSchema,
  type ChatChunk,
  type ChunkChoice,
  type Delta,
  type ToolCallDelta,
} from "@llmmesh/proto";
import { WireError } from "./errors.js";
import {
  childParam,
  expectArray,
  expectInteger,
  expectObject,
  expectString,
  ExtraFields,
  int64ToNumber,
  isObject,
  mergeExtra,
  rejectErrorBody,
  parseStoredJson,
} from "./guards.js";
import type { ChatCompletionChunkJson, ChunkChoiceJson, DeltaJson, ToolCallDeltaJson } from "./types.js";
import { usageFromJson, usageToJson } from "./usage.js";

/** Parses one upstream chunk (an SSE event's data); throws WireError if it is not a chat chunk. */
export function chatChunkFromJson(json: unknown): ChatChunk {
  if (!isObject(json)) throw new WireError("A chat completion chunk must be a JSON object.");
  rejectErrorBody(json, "a chat completion chunk");
  if (json.object !== undefined && json.object !== "chat.completion.chunk") {
    throw new WireError(`Not a chat completion chunk: 'object' is ${JSON.stringify(json.object)}.`, "object");
  }
  if (json.choices !== undefined && !Array.isArray(json.choices)) {
    throw new WireError("Not a chat completion chunk: 'choices' is not an array.", "choices");
  }
  if (json.choices === undefined && !isObject(json.usage)) {
    throw new WireError("Not a chat completion chunk: it has neither 'choices' nor 'usage'.", "choices");
  }
  const chunk = create(ChatChunkSchema);
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const v = json[key];
    switch (key) {
      case "object":
        break; // always rendered as "chat.completion.chunk"
      case "id":
        if (v === null) extra.set(key, null);
        else chunk.id = expectString(v, key);
        break;
      case "created":
        if (v === null) extra.set(key, null);
        else chunk.created = expectInteger(v, key);
        break;
      case "model":
        if (v === null) extra.set(key, null);
        else chunk.model = expectString(v, key);
        break;
      case "choices":
        chunk.choices = expectArray(v, key).map((c, i) => chunkChoiceFromJson(c, childParam(key, i)));
        break;
      case "usage":
        if (v === null) extra.set(key, null);
        else chunk.usage = usageFromJson(v, key, "chat");
        break;
      case "system_fingerprint":
        if (v === null) extra.set(key, null);
        else chunk.systemFingerprint = expectString(v, key);
        break;
      case "service_tier":
        if (v === null) extra.set(key, null);
        else chunk.serviceTier = expectString(v, key);
        break;
      default:
        extra.set(key, v);
    }
  }
  chunk.extraJson = extra.toJson();
  return chunk;
}

function chunkChoiceFromJson(value: unknown, param: string): ChunkChoice {
  const json = expectObject(value, param);
  const choice = create(ChunkChoiceSchema);
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const v = json[key];
    switch (key) {
      case "index":
        choice.index = expectInteger(v, childParam(param, key), { min: 0 });
        break;
      case "delta":
        if (v === null) extra.set(key, null);
        else choice.delta = deltaFromJson(v, childParam(param, key));
        break;
      case "finish_reason":
        if (v !== null) choice.finishReason = expectString(v, childParam(param, key));
        break;
      case "logprobs":
        if (v !== null) choice.logprobsJson = JSON.stringify(v);
        break;
      default:
        extra.set(key, v);
    }
  }
  choice.extraJson = extra.toJson();
  return choice;
}

function deltaFromJson(value: unknown, param: string): Delta {
  const json = expectObject(value, param);
  const delta = create(DeltaSchema);
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const v = json[key];
    const p = childParam(param, key);
    if (v === null) {
      extra.set(key, null);
      continue;
    }
    switch (key) {
      case "role":
        delta.role = expectString(v, p);
        break;
      case "content":
        delta.content = expectString(v, p);
        break;
      case "refusal":
        delta.refusal = expectString(v, p);
        break;
      case "tool_calls":
        delta.toolCalls = expectArray(v, p).map((c, i) => toolCallDeltaFromJson(c, childParam(p, i), i));
        if (delta.toolCalls.length === 0) extra.set(key, []);
        break;
      case "function_call":
        delta.functionCallJson = JSON.stringify(expectObject(v, p));
        break;
      default:
        extra.set(key, v);
    }
  }
  delta.extraJson = extra.toJson();
  return delta;
}

/**
 * Parses one tool-call fragment. Some compatible servers send `null` for the
 * fields a fragment does not carry, or omit `index`; both are read as unset
 * (a missing index as the fragment's position).
 */
function toolCallDeltaFromJson(value: unknown, param: string, position: number): ToolCallDelta {
  const json = expectObject(value, param);
  const call = create(ToolCallDeltaSchema, {
    index: json.index === undefined || json.index === null ? BigInt(position) : expectInteger(json.index, childParam(param, "index"), { min: 0 }),
  });
  if (json.id !== undefined && json.id !== null) call.id = expectString(json.id, childParam(param, "id"));
  if (json.type !== undefined && json.type !== null) call.type = expectString(json.type, childParam(param, "type"));
  if (json.function !== undefined && json.function !== null) {
    const fp = childParam(param, "function");
    const fn = expectObject(json.function, fp);
    if (fn.name !== undefined && fn.name !== null) call.name = expectString(fn.name, childParam(fp, "name"));
    if (fn.arguments !== undefined && fn.arguments !== null) {
      call.arguments = expectString(fn.arguments, childParam(fp, "arguments"));
    }
  }
  return call;
}

/** Renders one chunk for a client: `"object":"chat.completion.chunk"`. */
export function chatChunkToJson(chunk: ChatChunk): Record<string, unknown> {
  const out: ChatCompletionChunkJson = {
    id: chunk.id,
    object: "chat.completion.chunk",
    created: int64ToNumber(chunk.created),
    model: chunk.model,
    choices: chunk.choices.map(chunkChoiceToJson),
  };
  if (chunk.usage !== undefined) out.usage = usageToJson(chunk.usage, "chat");
  if (chunk.systemFingerprint !== undefined) out.system_fingerprint = chunk.systemFingerprint;
  if (chunk.serviceTier !== undefined) out.service_tier = chunk.serviceTier;
  return mergeExtra(out, chunk.extraJson);
}

function chunkChoiceToJson(choice: ChunkChoice): ChunkChoiceJson {
  const out: ChunkChoiceJson = {
    index: int64ToNumber(choice.index),
    delta: choice.delta === undefined ? {} : deltaToJson(choice.delta),
    logprobs: choice.logprobsJson === undefined ? null : parseStoredJson(choice.logprobsJson),
    finish_reason: choice.finishReason ?? null,
  };
  return mergeExtra(out, choice.extraJson);
}

function deltaToJson(delta: Delta): DeltaJson {
  const out: DeltaJson = {};
  if (delta.role !== undefined) out.role = delta.role;
  if (delta.content !== undefined) out.content = delta.content;
  if (delta.toolCalls.length > 0) out.tool_calls = delta.toolCalls.map(toolCallDeltaToJson);
  if (delta.refusal !== undefined) out.refusal = delta.refusal;
  if (delta.functionCallJson !== undefined) out.function_call = parseStoredJson(delta.functionCallJson);
  return mergeExtra(out, delta.extraJson);
}

function toolCallDeltaToJson(call: ToolCallDelta): ToolCallDeltaJson {
  const out: ToolCallDeltaJson = { index: int64ToNumber(call.index) };
  if (call.id !== undefined) out.id = call.id;
  if (call.type !== undefined) out.type = call.type;
  if (call.name !== undefined || call.arguments !== undefined) {
    out.function = {};
    if (call.name !== undefined) out.function.name = call.name;
    if (call.arguments !== undefined) out.function.arguments = call.arguments;
  }
  return out;
}
