/** The OpenAI-compatible adapter: serves `AdapterService` against OpenAI-style upstreams. */
export { createOpenAIAdapter } from "./adapter-service.js";
export type { OpenAIAdapter, OpenAIAdapterDeps } from "./adapter-service.js";
export { DEFAULT_TIMEOUT_MS } from "./provider-resolver.js";
export { protocols, DEFAULT_PROTOCOL } from "./providers/index.js";
export type { ProviderProtocol, ResolvedProvider, UpstreamCall, ProtocolRequest, ProbeResult } from "./providers/provider.js";
export { openAIAdapterComponent } from "./component.js";
