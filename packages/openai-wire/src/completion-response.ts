/**
 * Text completions (`"object":"text_completion"`), complete and streamed ⇄
 * `CompletionResponse` / `CompletionChunk`.
 *
 * Both share chat's envelope (id, created, model, choices, usage,
 * system_fingerprint) and choice fields (index, logprobs, finish_reason);
 * a choice's body is its `text`. OpenAI sends the same `object` for a
 * complete answer and for each chunk; a chunk may instead be the final
 * usage chunk, with no choices.
 */
import { create } from "@bufbuild/protobuf";
import {
  CompletionChoiceSchema,
  CompletionChunkSchema,
  CompletionResponseSchema,
  type CompletionChoice,
  type CompletionChunk,
  type CompletionResponse,
} from "@llmmesh/proto";
import { chatEnvelopeReaders, chatEnvelopeToJson, choiceEnvelopeReaders, choiceEnvelopeToJson } from "./chat-envelope.js";
import { WireError } from "./errors.js";
import { nullKept, readFields, type FieldReaders } from "./fields.js";
import { expectAnswer, expectObject, expectString, isObject, type AnswerKind } from "./guards.js";
import type { CompletionChoiceJson, CompletionJson } from "./types.js";

const TEXT_COMPLETION = "text_completion";
const COMPLETION: AnswerKind = { name: "a text completion", object: TEXT_COMPLETION, list: "choices" };
const CHUNK: AnswerKind = { name: "a text completion chunk", object: TEXT_COMPLETION, list: "choices", listOptional: true };

const ENVELOPE_READERS = chatEnvelopeReaders(choiceFromJson);

const CHOICE_READERS: FieldReaders<CompletionChoice> = {
  ...choiceEnvelopeReaders,
  text: nullKept((m, v, p) => { m.text = expectString(v, p); }),
};

/** Parses an upstream's complete answer; throws WireError if it is not a text completion. */
export function completionResponseFromJson(json: unknown): CompletionResponse {
  return readFields(expectAnswer(json, COMPLETION), create(CompletionResponseSchema), ENVELOPE_READERS);
}

/** Parses one upstream chunk (an SSE event's data); throws WireError if it is not a text completion chunk. */
export function completionChunkFromJson(json: unknown): CompletionChunk {
  const body = expectAnswer(json, CHUNK);
  if (body.choices === undefined && !isObject(body.usage)) {
    throw new WireError("Not a text completion chunk: it has neither 'choices' nor 'usage'.", "choices");
  }
  return readFields(body, create(CompletionChunkSchema), ENVELOPE_READERS);
}

function choiceFromJson(value: unknown, param: string): CompletionChoice {
  return readFields(expectObject(value, param), create(CompletionChoiceSchema), CHOICE_READERS, param);
}

/** Renders a complete answer for a client: `"object":"text_completion"`. */
export function completionResponseToJson(res: CompletionResponse): Record<string, unknown> {
  return chatEnvelopeToJson(TEXT_COMPLETION, res, choiceToJson) satisfies CompletionJson;
}

/** Renders one chunk for a client: also `"object":"text_completion"`, as OpenAI streams it. */
export function completionChunkToJson(chunk: CompletionChunk): Record<string, unknown> {
  return chatEnvelopeToJson(TEXT_COMPLETION, chunk, choiceToJson) satisfies CompletionJson;
}

/**
 * `text` is always rendered: a choice without it has produced nothing (yet).
 * It comes first, as in OpenAI's own bytes (chat choices start with `index`).
 */
function choiceToJson(choice: CompletionChoice): CompletionChoiceJson {
  return { text: choice.text, ...choiceEnvelopeToJson(choice, {}) };
}
