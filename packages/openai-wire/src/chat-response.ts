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
  parseStoredJson,
  rejectErrorBody,
} from "./guards.js";
import { messageFromJson, messageToJson } from "./messages.js";
import type { ChatCompletionJson, ChoiceJson } from "./types.js";
import { usageFromJson, usageToJson } from "./usage.js";

/** Parses an upstream's complete answer; throws WireError if it is not a chat completion. */
export function chatResponseFromJson(json: unknown): ChatResponse {
  if (!isObject(json)) throw new WireError("A chat completion must be a JSON object.");
  rejectErrorBody(json, "a chat completion");
  if (json.object !== undefined && json.object !== "chat.completion") {
    throw new WireError(`Not a chat completion: 'object' is ${JSON.stringify(json.object)}.`, "object");
  }
  if (!Array.isArray(json.choices)) throw new WireError("Not a chat completion: 'choices' is not an array.", "choices");
  const res = create(ChatResponseSchema);
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const v = json[key];
    switch (key) {
      case "object":
        break; // always rendered as "chat.completion"
      case "id":
        if (v === null) extra.set(key, null);
        else res.id = expectString(v, key);
        break;
      case "created":
        if (v === null) extra.set(key, null);
        else res.created = expectInteger(v, key);
        break;
      case "model":
        if (v === null) extra.set(key, null);
        else res.model = expectString(v, key);
        break;
      case "choices":
        res.choices = expectArray(v, key).map((c, i) => choiceFromJson(c, childParam(key, i)));
        break;
      case "usage":
        if (v === null) extra.set(key, null);
        else res.usage = usageFromJson(v, key, "chat");
        break;
      case "system_fingerprint":
        if (v === null) extra.set(key, null);
        else res.systemFingerprint = expectString(v, key);
        break;
      case "service_tier":
        if (v === null) extra.set(key, null);
        else res.serviceTier = expectString(v, key);
        break;
      default:
        extra.set(key, v);
    }
  }
  res.extraJson = extra.toJson();
  return res;
}

function choiceFromJson(value: unknown, param: string): Choice {
  const json = expectObject(value, param);
  const choice = create(ChoiceSchema);
  const extra = new ExtraFields();
  let hasMessage = false;
  for (const key of Object.keys(json)) {
    const v = json[key];
    switch (key) {
      case "index":
        choice.index = expectInteger(v, childParam(param, key), { min: 0 });
        break;
      case "message":
        choice.message = messageFromJson(v, childParam(param, key), "response");
        hasMessage = true;
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
  if (!hasMessage) throw new WireError(`Not a chat completion: '${param}.message' is missing.`, childParam(param, "message"));
  choice.extraJson = extra.toJson();
  return choice;
}

/** Renders a complete answer for a client: `"object":"chat.completion"`. */
export function chatResponseToJson(res: ChatResponse): Record<string, unknown> {
  const out: ChatCompletionJson = {
    id: res.id,
    object: "chat.completion",
    created: int64ToNumber(res.created),
    model: res.model,
    choices: res.choices.map(choiceToJson),
  };
  if (res.usage !== undefined) out.usage = usageToJson(res.usage, "chat");
  if (res.systemFingerprint !== undefined) out.system_fingerprint = res.systemFingerprint;
  if (res.serviceTier !== undefined) out.service_tier = res.serviceTier;
  return mergeExtra(out, res.extraJson);
}

function choiceToJson(choice: Choice): ChoiceJson {
  const out: ChoiceJson = {
    index: int64ToNumber(choice.index),
    message:
      choice.message === undefined
        ? { role: "assistant", content: null, refusal: null }
        : messageToJson(choice.message, "response"),
    logprobs: choice.logprobsJson === undefined ? null : parseStoredJson(choice.logprobsJson),
    finish_reason: choice.finishReason ?? null,
  };
  return mergeExtra(out, choice.extraJson);
}
