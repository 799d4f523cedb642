import type { ConfigSnapshot, Logger, ProviderConfig } from "@llmmesh/common";
import type { ChatChunk, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ModelInfo } from "@llmmesh/proto";

/** Everything a protocol gets for one call. */
export interface ProtocolCall {
  /** The target provider's config, as written (secrets are `${VAR}` references, resolved only by the protocol that needs them). */
  readonly provider: ProviderConfig;
  /** The config revision the RPC started on. */
  readonly snapshot: ConfigSnapshot;
  /** Aborts when the RPC is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** The result of a health probe. */
export interface ProbeResult {
  healthy: boolean;
  latencyMs: number;
  message: string;
}

/**
 * One protocol served by adapter-custom (the built-in mock today; Anthropic
 * Messages, Gemini and declarative HTTP mappings later). Implementations hold
 * every quirk of their protocol; failures are thrown as mesh errors.
 */
export interface CustomProtocol {
  /** A complete chat answer from `model`. */
  chat(call: ProtocolCall, model: string, request: ChatRequest): Promise<ChatResponse>;
  /** The chunks of a streamed answer as they are produced, ending with a usage chunk (no choices). */
  chatStream(call: ProtocolCall, model: string, request: ChatRequest): AsyncIterable<ChatChunk>;
  /** Embeddings from `model`. */
  embed(call: ProtocolCall, model: string, request: EmbedRequest): Promise<EmbedResponse>;
  /** The models the provider serves. */
  listModels(call: ProtocolCall): Promise<ModelInfo[]>;
  /** Whether the provider answers; throws only for cancellation. */
  probe(call: ProtocolCall): Promise<ProbeResult>;
}
