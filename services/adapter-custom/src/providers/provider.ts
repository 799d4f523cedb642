import type { AdapterProtocol, ConfigSnapshot, Logger, ProviderConfig } from "@llmmesh/common";

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
export type { ProbeResult } from "@llmmesh/common";

/**
 * One protocol served by adapter-custom (the built-in mock today; Anthropic
 * Messages, Gemini and declarative HTTP mappings later). Implementations hold
 * every quirk of their protocol; failures are thrown as mesh errors.
 */
export type CustomProtocol = AdapterProtocol<ProtocolCall>;
