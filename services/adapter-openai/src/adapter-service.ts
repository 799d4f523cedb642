import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { createAdapterRpcs, unknownProtocolError, type ConfigSnapshot, type ConfigStore, type Logger, type OpenedCall } from "@llmmesh/common";
import type { AdapterService } from "@llmmesh/proto";
import { protocols } from "./providers/index.js";
import type { ProtocolRequest, ResolvedProvider, UpstreamCall } from "./providers/provider.js";
import { ProviderResolver } from "./provider-resolver.js";
import { readBodyText, transportFailure, UpstreamClient, type UpstreamRequest } from "./upstream-client.js";

/** What the OpenAI adapter needs. `env` holds the secrets `${VAR}` references name (default `process.env`). */
export interface OpenAIAdapterDeps {
  config: ConfigStore;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/** The adapter's RPC implementation and the shutdown of its connection pools. */
export interface OpenAIAdapter {
  readonly service: ServiceImpl<typeof AdapterService>;
  /** Stops following config and closes upstream pools after requests in flight finish. */
  close(): Promise<void>;
}

/**
 * Creates the OpenAI-compatible adapter: each RPC names a target provider,
 * which is looked up in the config revision current when the RPC starts and
 * served by the protocol the provider names (see ./providers/index.ts).
 * Upstream connections are pooled per origin and survive config revisions
 * that keep the origin. Cancelling an RPC (or passing its deadline) aborts
 * the upstream request and closes its socket.
 */
export function createOpenAIAdapter(deps: OpenAIAdapterDeps): OpenAIAdapter {
  const logger = deps.logger.child({ service: "adapter-openai" });
  const resolver = new ProviderResolver(deps.env ?? process.env);
  const upstream = new UpstreamClient();
  const unsubscribe = deps.config.subscribe((snapshot) => upstream.retainOrigins(originsOf(snapshot)));

  /** The protocol and call for one RPC against `providerName`. */
  const open = (providerName: string, ctx: HandlerContext): OpenedCall<UpstreamCall> => {
    const provider = resolver.resolve(deps.config.current(), providerName);
    const protocol = protocols.get(provider.protocol);
    if (protocol === undefined) {
      throw unknownProtocolError({ adapter: "adapter-openai", provider: provider.name, protocol: provider.protocol, spoken: protocols.keys() });
    }
    const call = createCall(provider, ctx.signal, upstream, logger);
    return { protocol, call, upstreamMs: () => call.waitedMs };
  };

  return {
    service: createAdapterRpcs(open),
    async close() {
      unsubscribe();
      await upstream.close();
    },
  };
}

/** Binds one provider, cancellation signal and the shared pools into the call a protocol uses. */
function createCall(provider: ResolvedProvider, signal: AbortSignal, upstream: UpstreamClient, logger: Logger): UpstreamCall & { readonly waitedMs: number } {
  let waitedMs = 0;
  const upstreamRequest = (request: ProtocolRequest): UpstreamRequest => ({
    method: request.method,
    url: endpointUrl(provider.baseUrl, request.path),
    headers: request.headers,
    body: request.body,
    signal,
    timeoutMs: provider.timeoutMs,
  });
  const answered = (request: ProtocolRequest, status: number, started: number) => {
    waitedMs += performance.now() - started;
    // Never log headers or bodies: they hold the key and the user's data.
    logger.debug("upstream answered", { provider: provider.name, method: request.method, path: request.path, status, ms: Math.round(performance.now() - started) });
  };
  return {
    provider,
    signal,
    logger,
    get waitedMs() {
      return waitedMs;
    },
    waited(since) {
      waitedMs += performance.now() - since;
    },
    async send(request) {
      const started = performance.now();
      const response = await upstream.send(upstreamRequest(request), provider.name);
      answered(request, response.status, started);
      return response;
    },
    async fetch(request) {
      const started = performance.now();
      const answer = await upstream.fetch(upstreamRequest(request), provider.name);
      answered(request, answer.status, started);
      return answer;
    },
    async readText(response) {
      const started = performance.now();
      try {
        return await readBodyText(response, provider.name, signal);
      } finally {
        waitedMs += performance.now() - started;
      }
    },
    failure: (err) => transportFailure(err, provider.name, signal),
  };
}

/** `base_url` + endpoint path, keeping the base URL's query (some gateways need one). */
function endpointUrl(baseUrl: URL, path: string): URL {
  const url = new URL(baseUrl);
  url.pathname = baseUrl.pathname.replace(/\/+$/, "") + path;
  return url;
}

/** Origins some provider of `snapshot` points at: their pools stay open. */
function originsOf(snapshot: ConfigSnapshot): Set<string> {
  const origins = new Set<string>();
  for (const provider of snapshot.config.providers) {
    if (provider.base_url !== undefined) origins.add(new URL(provider.base_url).origin);
  }
  return origins;
}
