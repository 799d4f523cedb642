/**
 * What a complete chat answer and a streamed chunk share, both directions:
 * the top-level envelope (`id`, `created`, `model`, `choices`, `usage`,
 * `system_fingerprint`, `service_tier`) and each choice's `index`,
 * `logprobs` and `finish_reason`. They differ only in their `object` and in
 * a choice's body (`message` or `delta`), which their own files map.
 * Text completions (complete and streamed) share them too, with `text` as
 * a choice's body.
 */
import type { Usage } from "@llmmesh/proto";
import { ignored, nullKept, nullSkipped, type FieldReaders, type WithExtraJson } from "./fields.js";
import { childParam, expectArray, expectInteger, expectString, int64ToNumber, mergeExtra, parseStoredJson, type JsonObject } from "./guards.js";
import type { ChatEnvelopeJson, ChoiceEnvelopeJson } from "./types.js";
import { usageFromJson, usageToJson } from "./usage.js";

/** The modelled top-level fields of `ChatResponse` and `ChatChunk`, whose choices are `Choice`s. */
export interface ChatEnvelope<Choice> extends WithExtraJson {
  id: string;
  created: bigint;
  model: string;
  choices: Choice[];
  usage?: Usage;
  systemFingerprint?: string;
  serviceTier?: string;
}

/**
 * The readers of an envelope's keys, `choiceFromJson` reading each choice.
 * Explicit nulls (`"usage": null` on ordinary chunks when the client asked
 * for usage, `"system_fingerprint": null`) are kept in `extraJson`, so the
 * answer renders exactly as the upstream sent it.
 */
export function chatEnvelopeReaders<Choice>(choiceFromJson: (value: unknown, param: string) => Choice): FieldReaders<ChatEnvelope<Choice>> {
  return {
    object: ignored, // always rendered with the kind's own `object`
    id: nullKept((m, v, p) => { m.id = expectString(v, p); }),
    created: nullKept((m, v, p) => { m.created = expectInteger(v, p); }),
    model: nullKept((m, v, p) => { m.model = expectString(v, p); }),
    choices: (m, v, p) => { m.choices = expectArray(v, p).map((c, i) => choiceFromJson(c, childParam(p, i))); },
    usage: nullKept((m, v, p) => { m.usage = usageFromJson(v, p, "chat"); }),
    system_fingerprint: nullKept((m, v, p) => { m.systemFingerprint = expectString(v, p); }),
    service_tier: nullKept((m, v, p) => { m.serviceTier = expectString(v, p); }),
  };
}

/**
 * Where OpenAI puts `service_tier` and `system_fingerprint`: after `usage`
 * in a complete answer (`...,"choices","usage","service_tier","system_fingerprint"`),
 * before `choices` in a streamed chunk (`...,"model","service_tier","system_fingerprint","choices","usage"`).
 */
export type EnvelopeLayout = "answer" | "chunk";

/**
 * Renders an envelope with `object` set to `kind`, each choice by
 * `choiceToJson`, its keys in OpenAI's order for `layout`, so an answer
 * passed through reads byte for byte as the upstream wrote it. Keys kept in
 * `extraJson` (an explicit `"usage": null`, `obfuscation`) follow, in the
 * upstream's order.
 */
export function chatEnvelopeToJson<Kind extends string, Choice, ChoiceJson>(
  kind: Kind,
  envelope: ChatEnvelope<Choice>,
  choiceToJson: (choice: Choice) => ChoiceJson,
  layout: EnvelopeLayout = "answer",
): ChatEnvelopeJson<Kind, ChoiceJson> {
  const out = { id: envelope.id, object: kind, created: int64ToNumber(envelope.created), model: envelope.model } as ChatEnvelopeJson<Kind, ChoiceJson>;
  if (layout === "chunk") servingFields(envelope, out);
  out.choices = envelope.choices.map((choice) => choiceToJson(choice));
  if (envelope.usage !== undefined) out.usage = usageToJson(envelope.usage, "chat");
  if (layout === "answer") servingFields(envelope, out);
  return mergeExtra(out, envelope.extraJson);
}

function servingFields(envelope: ChatEnvelope<unknown>, out: ChatEnvelopeJson<string, unknown>): void {
  if (envelope.serviceTier !== undefined) out.service_tier = envelope.serviceTier;
  if (envelope.systemFingerprint !== undefined) out.system_fingerprint = envelope.systemFingerprint;
}

/** The modelled fields every choice has, complete or streamed. */
export interface ChoiceEnvelope extends WithExtraJson {
  index: bigint;
  finishReason?: string;
  logprobsJson?: string;
}

/**
 * The readers of the keys every choice has. A null `finish_reason` or
 * `logprobs` is dropped: both are always rendered, as null when unset.
 */
export const choiceEnvelopeReaders: FieldReaders<ChoiceEnvelope> = {
  index: (m, v, p) => { m.index = expectInteger(v, p, { min: 0 }); },
  finish_reason: nullSkipped((m, v, p) => { m.finishReason = expectString(v, p); }),
  logprobs: nullSkipped((m, v) => { m.logprobsJson = JSON.stringify(v); }),
};

/** Renders a choice around its `body` (`{message}` or `{delta}`), in OpenAI's key order, `logprobs` and `finish_reason` null when unset. */
export function choiceEnvelopeToJson<Body extends JsonObject>(choice: ChoiceEnvelope, body: Body): ChoiceEnvelopeJson<Body> {
  const out: ChoiceEnvelopeJson<Body> = {
    index: int64ToNumber(choice.index),
    ...body,
    logprobs: choice.logprobsJson === undefined ? null : parseStoredJson(choice.logprobsJson),
    finish_reason: choice.finishReason ?? null,
  };
  return mergeExtra(out, choice.extraJson);
}
