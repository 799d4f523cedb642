/**
 * What the Messages API reports about how an answer ended, from what an
 * OpenAI-shaped answer says: `stop_reason`, `stop_sequence` and `usage`.
 */
import type { Usage } from "@llmmesh/proto";
import { int64ToNumber, isObject } from "@llmmesh/openai-wire";

/** A refusal's `stop_details`: what the upstream does not say (its category, an explanation) is null. */
export interface RefusalStopDetails {
  type: "refusal";
  category: null;
  explanation: null;
}

/**
 * `stop_reason`, `stop_sequence` and `stop_details`, in the order Anthropic
 * writes them. `stop_details` is always present (null unless a refusal), as
 * in Anthropic's answers and its SDKs' types.
 */
export interface StopInfo {
  stop_reason: string;
  stop_sequence: string | null;
  stop_details: RefusalStopDetails | null;
}

/** What is known about the end of an answer. */
export interface AnswerEnd {
  finishReason: string | undefined;
  hasToolCalls: boolean;
  /** The answer is a refusal (OpenAI's `refusal` instead of content). */
  refused: boolean;
  /** The request's stop sequences. */
  stopSequences: readonly string[];
  /** The choice's `extraJson`, where a vLLM-style `stop_reason` is kept. */
  choiceExtraJson: string;
}

/**
 * Maps a `finish_reason`: length → max_tokens, tool_calls → tool_use,
 * content_filter (or a refusal) → refusal, stop → end_turn, or stop_sequence
 * when the upstream names which of the client's sequences matched. OpenAI
 * does not say that; vLLM-style servers send it as the choice's `stop_reason`.
 */
export function stopInfo({ finishReason, hasToolCalls, refused, stopSequences, choiceExtraJson }: AnswerEnd): StopInfo {
  if (refused) return refusal();
  switch (finishReason) {
    case "length":
      return { stop_reason: "max_tokens", stop_sequence: null, stop_details: null };
    case "tool_calls":
    case "function_call":
      return { stop_reason: "tool_use", stop_sequence: null, stop_details: null };
    case "content_filter":
      return refusal();
    default: {
      // Some compatible servers end a tool call with "stop".
      if (hasToolCalls) return { stop_reason: "tool_use", stop_sequence: null, stop_details: null };
      const matched = matchedStopSequence(stopSequences, choiceExtraJson);
      if (matched === undefined) return { stop_reason: "end_turn", stop_sequence: null, stop_details: null };
      return { stop_reason: "stop_sequence", stop_sequence: matched, stop_details: null };
    }
  }
}

/** A new object each time: answers are built and serialised independently. */
function refusal(): StopInfo {
  return { stop_reason: "refusal", stop_sequence: null, stop_details: { type: "refusal", category: null, explanation: null } };
}

function matchedStopSequence(stopSequences: readonly string[], choiceExtraJson: string): string | undefined {
  if (stopSequences.length === 0 || choiceExtraJson === "") return undefined;
  // Whichever adapter served fills extra_json: anything but an object names no stop sequence.
  const extra: unknown = JSON.parse(choiceExtraJson);
  const reason = isObject(extra) ? extra.stop_reason : undefined;
  return typeof reason === "string" && stopSequences.includes(reason) ? reason : undefined;
}

/** Anthropic's `usage` counts. */
export interface UsageJson {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

/**
 * OpenAI's prompt tokens include the cached ones; Anthropic counts them
 * apart (`input_tokens` + `cache_read_input_tokens` is the whole prompt).
 * Cache writes are not reported by OpenAI-shaped upstreams: always 0.
 */
export function usageToJson(usage: Usage | undefined): UsageJson {
  if (usage === undefined) return { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 };
  const cached = int64ToNumber(usage.cachedTokens);
  return {
    input_tokens: Math.max(0, int64ToNumber(usage.promptTokens) - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: int64ToNumber(usage.completionTokens),
  };
}

/**
 * A Messages id for an upstream answer id: `msg_` and the id without
 * OpenAI's `chatcmpl-` prefix, so the two can still be matched in logs.
 */
export function messageId(upstreamId: string): string {
  const core = upstreamId.startsWith("chatcmpl-") ? upstreamId.slice("chatcmpl-".length) : upstreamId;
  return `msg_${core.replace(/[^A-Za-z0-9_-]/g, "") || "llmmesh"}`;
}
