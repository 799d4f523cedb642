import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { createAdapterRpcs, unknownProtocolError, type ConfigSnapshot, type ConfigStore, type Logger, type OpenedCall } from "@llmmesh/common";
import type { AdapterService } from "@llmmesh/proto";
import { protocols } from "./providers/index.js";
import type { ProtocolRequest, ResolvedProvider, UpstreamCall } from "./providers/provider.js";
import { ProviderResolver } from "./provider-resolver.js";
import { readBodyText, transportFailure, UpstreamClient, type UpstreamAnswer, type UpstreamRequest, type UpstreamResponse } from "./upstream-client.js";

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
    const call = new ProviderCall(provider, ctx.signal, upstream, logger);
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

/**
 * Binds one provider, cancellation signal and the shared pools into the call
 * a protocol uses. A class, not an object of closures: a stream holds its
 * call for as long as it lasts, and methods on the prototype cost it nothing.
 */
class ProviderCall implements UpstreamCall {
  #waitedMs = 0;

  constructor(
    readonly provider: ResolvedProvider,
    readonly signal: AbortSignal,
    private readonly upstream: UpstreamClient,
    readonly logger: Logger,
  ) {}

  get waitedMs(): number {
    return this.#waitedMs;
  }

  waited(since: number): void {
    this.#waitedMs += performance.now() - since;
  }

  async send(request: ProtocolRequest): Promise<UpstreamResponse> {
    const started = performance.now();
    const response = await this.upstream.send(this.#upstreamRequest(request), this.provider.name);
    this.#answered(request, response.status, started);
    return response;
  }

  async fetch(request: ProtocolRequest): Promise<UpstreamAnswer> {
    const started = performance.now();
    const answer = await this.upstream.fetch(this.#upstreamRequest(request), this.provider.name);
    this.#answered(request, answer.status, started);
    return answer;
  }

  async readText(response: UpstreamResponse): Promise<string> {
    const started = performance.now();
    try {
      return await readBodyText(response, this.provider.name, this.signal);
    } finally {
      this.waited(started);
    }
  }

  failure(err: unknown): ConnectError {
    return transportFailure(err, this.provider.name, this.signal);
  }

  #upstreamRequest(request: ProtocolRequest): UpstreamRequest {
    return {
      method: request.method,
      url: endpointUrl(this.provider.baseUrl, request.path),
      headers: request.headers,
      body: request.body,
      signal: this.signal,
      timeoutMs: this.provider.timeoutMs,
    };
  }

  #answered(request: ProtocolRequest, status: number, started: number): void {
    this.waited(started);
    // Never log headers or bodies: they hold the key and the user's data.
    this.logger.debug("upstream answered", { provider: this.provider.name, method: request.method, path: request.path, status, ms: Math.round(performance.now() - started) });
  }
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
