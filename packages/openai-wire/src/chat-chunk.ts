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
import { chatEnvelopeReaders, chatEnvelopeToJson, choiceEnvelopeReaders, choiceEnvelopeToJson } from "./chat-envelope.js";
import { WireError } from "./errors.js";
import { KEEP, nullKept, readFields, type FieldReaders } from "./fields.js";
import {
  childParam,
  expectAnswer,
  expectArray,
  expectObject,
  expectString,
  indexOrPosition,
  int64ToNumber,
  isObject,
  mergeExtra,
  mergeExtraObject,
  parseExtra,
  parseStoredJson,
  type AnswerKind,
  type JsonObject,
} from "./guards.js";
import { toolCallExtra } from "./messages.js";
import type { ChatCompletionChunkJson, ChunkChoiceJson, DeltaJson, ToolCallDeltaJson } from "./types.js";

const CHUNK: AnswerKind = { name: "a chat completion chunk", object: "chat.completion.chunk", list: "choices", listOptional: true };

const CHUNK_READERS = chatEnvelopeReaders(chunkChoiceFromJson);

const CHOICE_READERS: FieldReaders<ChunkChoice> = {
  ...choiceEnvelopeReaders,
  delta: nullKept((m, v, p) => { m.delta = deltaFromJson(v, p); }),
};

/** Every explicit null in a delta is kept, so it renders back as sent. */
const DELTA_READERS: FieldReaders<Delta> = {
  role: nullKept((m, v, p) => { m.role = expectString(v, p); }),
  content: nullKept((m, v, p) => { m.content = expectString(v, p); }),
  refusal: nullKept((m, v, p) => { m.refusal = expectString(v, p); }),
  tool_calls: nullKept((m, v, p) => {
    m.toolCalls = expectArray(v, p).map((c, i) => toolCallDeltaFromJson(c, childParam(p, i), i));
    if (m.toolCalls.length === 0) return KEEP; // the proto cannot tell an empty list from none
  }),
  function_call: nullKept((m, v, p) => { m.functionCallJson = JSON.stringify(expectObject(v, p)); }),
};

/** Parses one upstream chunk (an SSE event's data); throws WireError if it is not a chat chunk. */
export function chatChunkFromJson(json: unknown): ChatChunk {
  const body = expectAnswer(json, CHUNK);
  if (body.choices === undefined && !isObject(body.usage)) {
    throw new WireError("Not a chat completion chunk: it has neither 'choices' nor 'usage'.", "choices");
  }
  return readFields(body, create(ChatChunkSchema), CHUNK_READERS);
}

function chunkChoiceFromJson(value: unknown, param: string): ChunkChoice {
  return readFields(expectObject(value, param), create(ChunkChoiceSchema), CHOICE_READERS, param);
}

function deltaFromJson(value: unknown, param: string): Delta {
  return readFields(expectObject(value, param), create(DeltaSchema), DELTA_READERS, param);
}

/**
 * Parses one tool-call fragment. Some compatible servers send `null` for the
 * fields a fragment does not carry, or omit `index`; both are read as unset
 * (a missing index as the fragment's position).
 */
function toolCallDeltaFromJson(value: unknown, param: string, position: number): ToolCallDelta {
  const json = expectObject(value, param);
  const call = create(ToolCallDeltaSchema, { index: indexOrPosition(json, param, position) });
  if (json.id !== undefined && json.id !== null) call.id = expectString(json.id, childParam(param, "id"));
  if (json.type !== undefined && json.type !== null) call.type = expectString(json.type, childParam(param, "type"));
  let fn: JsonObject | undefined;
  if (json.function !== undefined && json.function !== null) {
    const fp = childParam(param, "function");
    fn = expectObject(json.function, fp);
    if (fn.name !== undefined && fn.name !== null) call.name = expectString(fn.name, childParam(fp, "name"));
    if (fn.arguments !== undefined && fn.arguments !== null) {
      call.arguments = expectString(fn.arguments, childParam(fp, "arguments"));
    }
  }
  call.extraJson = toolCallExtra(json, fn);
  return call;
}

/** Renders one chunk for a client: `"object":"chat.completion.chunk"`. */
export function chatChunkToJson(chunk: ChatChunk): Record<string, unknown> {
  return chatEnvelopeToJson("chat.completion.chunk", chunk, chunkChoiceToJson, "chunk") satisfies ChatCompletionChunkJson;
}

function chunkChoiceToJson(choice: ChunkChoice): ChunkChoiceJson {
  return choiceEnvelopeToJson(choice, { delta: choice.delta === undefined ? {} : deltaToJson(choice.delta) });
}

/** A delta's keys in OpenAI's order: role, content (an upstream's explicit null in its place), tool_calls, refusal. */
function deltaToJson(delta: Delta): DeltaJson {
  const extra = parseExtra(delta.extraJson);
  const out: DeltaJson = {};
  if (delta.role !== undefined) out.role = delta.role;
  if (delta.content !== undefined) out.content = delta.content;
  else if (extra?.content === null) out.content = null;
  if (delta.toolCalls.length > 0) out.tool_calls = delta.toolCalls.map(toolCallDeltaToJson);
  if (delta.refusal !== undefined) out.refusal = delta.refusal;
  if (delta.functionCallJson !== undefined) out.function_call = parseStoredJson(delta.functionCallJson);
  return mergeExtraObject(out, extra);
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
  return mergeExtra(out, call.extraJson);
}
