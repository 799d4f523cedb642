/**
 * Complete chat answers (`"object":"chat.completion"`) ⇄ `ChatResponse`.
 *
 * Fields OpenAI always sends (`message.content`, `message.refusal`,
 * `logprobs`, `finish_reason`) are rendered as null when unset, so answers
 * from any adapter have OpenAI's shape; other explicit nulls
 * (`system_fingerprint: null`, `usage: null`) are kept in `extraJson`.
 */
import { create } from "@bufbuild/protobuf";
import { ChatResponseSchema, ChoiceSchema, type ChatResponse, type Choice } from "@llmmesh/proto";
import { chatEnvelopeReaders, chatEnvelopeToJson, choiceEnvelopeReaders, choiceEnvelopeToJson } from "./chat-envelope.js";
import { WireError } from "./errors.js";
import { readFields, type FieldReaders } from "./fields.js";
import { childParam, expectAnswer, expectObject, type AnswerKind } from "./guards.js";
import { messageFromJson, messageToJson } from "./messages.js";
import type { ChatCompletionJson, ChoiceJson } from "./types.js";

const CHAT_COMPLETION: AnswerKind = { name: "a chat completion", object: "chat.completion", list: "choices" };

const RESPONSE_READERS = chatEnvelopeReaders(choiceFromJson);

const CHOICE_READERS: FieldReaders<Choice> = {
  ...choiceEnvelopeReaders,
  message: (m, v, p) => { m.message = messageFromJson(v, p, "response"); },
};

/** Parses an upstream's complete answer; throws WireError if it is not a chat completion. */
export function chatResponseFromJson(json: unknown): ChatResponse {
  return readFields(expectAnswer(json, CHAT_COMPLETION), create(ChatResponseSchema), RESPONSE_READERS);
}

function choiceFromJson(value: unknown, param: string): Choice {
  const choice = readFields(expectObject(value, param), create(ChoiceSchema), CHOICE_READERS, param);
  if (choice.message === undefined) {
    throw new WireError(`Not a chat completion: '${param}.message' is missing.`, childParam(param, "message"));
  }
  return choice;
}

/** Renders a complete answer for a client: `"object":"chat.completion"`. */
export function chatResponseToJson(res: ChatResponse): Record<string, unknown> {
  return chatEnvelopeToJson("chat.completion", res, choiceToJson) satisfies ChatCompletionJson;
}

function choiceToJson(choice: Choice): ChoiceJson {
  const message =
    choice.message === undefined ? { role: "assistant", content: null, refusal: null } : messageToJson(choice.message, "response");
  return choiceEnvelopeToJson(choice, { message });
}
