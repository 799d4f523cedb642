import type { Client, HandlerContext } from "@connectrpc/connect";
import { Operation, type AdmitResponse, type ChatRequest, type CompletionRequest, type EmbedRequest, type PolicyService, type Principal } from "@llmmesh/proto";

/** What policy needs to admit one request. */
export interface AdmissionRequest {
  operation: Operation;
  /** The client's model name; empty for listing models. */
  model: string;
  estimatedTokens: number;
}

/** How policy let one request in: with a reservation of its own (Admit), or on a lease. */
export interface Admission {
  readonly principal: Principal | undefined;
  /**
   * The request as policy rewrote it, when it did. Only Admit rewrites: a
   * policy that must see every request grants leases of nothing.
   */
  readonly chat?: ChatRequest | undefined;
  /** Admit's reservation; empty for a request admitted on a lease. */
  readonly reservationId: string;
  /** The lease that admitted the request; empty when Admit did. */
  readonly leaseId: string;
  /** Tokens the request took from its lease (0 when the lease has no token limit). */
  readonly reservedTokens: number;
}

/**
 * Asks policy whether the caller (by the API key from its `authorization`
 * metadata) may make this request. Policy's errors (401, 403, 404, 429) are
 * passed to the client unchanged; policy being unreachable fails closed.
 */
export function admit(policy: Client<typeof PolicyService>, ctx: HandlerContext, apiKey: string, request: AdmissionRequest): Promise<AdmitResponse> {
  return policy.admit(
    {
      apiKey,
      operation: request.operation,
      model: request.model,
      estimatedTokens: BigInt(request.estimatedTokens),
    },
    { signal: ctx.signal },
  );
}

/** Characters per token in the rough estimate used to reserve capacity before the real count is known. */
const CHARS_PER_TOKEN = 4;

/** A token estimate for a chat request: its text at ~4 characters a token, plus the most it may generate. */
export function estimateChatTokens(chat: ChatRequest): number {
  let chars = 0;
  for (const message of chat.messages) {
    const content = message.content;
    if (content.case === "text") chars += content.value.length;
    else if (content.case === "parts") {
      for (const part of content.value.parts) if (part.part.case === "text") chars += part.part.value.length;
    }
  }
  const maxTokens = chat.maxCompletionTokens ?? chat.maxTokens ?? 0n;
  return Math.ceil(chars / CHARS_PER_TOKEN) + Math.max(0, Number(maxTokens));
}

/** A token estimate for an embeddings request: its text at ~4 characters a token, token inputs as given. */
export function estimateEmbedTokens(embed: EmbedRequest): number {
  return estimateInputTokens(embed.input);
}

/**
 * OpenAI's default `max_tokens` for text completions: a request without one
 * may still generate this many.
 */
const DEFAULT_COMPLETION_MAX_TOKENS = 16;

/**
 * A token estimate for a text completion: its prompt (as for embeddings) plus
 * the most it may generate, for each of its `n` (or `best_of`) alternatives.
 * Capped where a double stops counting exactly, so absurd `max_tokens` × `n`
 * still make a valid int64 (and are refused by the limits, not by a crash).
 */
export function estimateCompletionTokens(completion: CompletionRequest): number {
  const maxTokens = Math.max(0, Number(completion.maxTokens ?? BigInt(DEFAULT_COMPLETION_MAX_TOKENS)));
  const alternatives = Math.max(1, Number(completion.bestOf ?? 0n), Number(completion.n ?? 1n));
  return Math.min(Number.MAX_SAFE_INTEGER, estimateInputTokens(completion.prompt) + maxTokens * alternatives);
}

/** A token estimate for a text-or-tokens input (embeddings' `input`, a completion's `prompt`). */
function estimateInputTokens(input: EmbedRequest["input"]): number {
  switch (input.case) {
    case "text":
      return Math.ceil(input.value.length / CHARS_PER_TOKEN);
    case "texts":
      return Math.ceil(input.value.values.reduce((sum, text) => sum + text.length, 0) / CHARS_PER_TOKEN);
    case "tokens":
      return input.value.tokens.length;
    case "tokenLists":
      return input.value.lists.reduce((sum, list) => sum + list.tokens.length, 0);
    default:
      return 0;
  }
}
