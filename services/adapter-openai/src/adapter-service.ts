import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { meshError, Reason, type ConfigSnapshot, type ConfigStore, type Logger } from "@llmmesh/common";
import { AdapterService, type ChatRequest, type Target } from "@llmmesh/proto";
import { protocols } from "./providers/index.js";
import type { ProviderProtocol, ResolvedProvider, UpstreamCall } from "./providers/provider.js";
import { ProviderResolver } from "./provider-resolver.js";
import { readBodyText, transportFailure, UpstreamClient } from "./upstream-client.js";

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
  const open = (providerName: string, ctx: HandlerContext): { protocol: ProviderProtocol; call: UpstreamCall } => {
    const provider = resolver.resolve(deps.config.current(), providerName);
    const protocol = protocols.get(provider.protocol);
    if (protocol === undefined) {
      throw meshError(
        Code.FailedPrecondition,
        `provider "${provider.name}" uses protocol "${provider.protocol}", which adapter-openai does not speak (it speaks: ${[...protocols.keys()].join(", ")})`,
        { reason: Reason.ProviderMisconfigured, provider: provider.name },
      );
    }
    return { protocol, call: createCall(provider, ctx.signal, upstream, logger) };
  };

  const service: ServiceImpl<typeof AdapterService> = {
    async chat(req, ctx) {
      const target = requireTarget(req.target);
      const { protocol, call } = open(target.provider, ctx);
      return { chat: await protocol.chat(call, target.model, requireChat(req.chat)) };
    },

    async *chatStream(req, ctx) {
      const target = requireTarget(req.target);
      const { protocol, call } = open(target.provider, ctx);
      for await (const chunk of protocol.chatStream(call, target.model, requireChat(req.chat))) yield { chunk };
    },

    async embed(req, ctx) {
      const target = requireTarget(req.target);
      if (req.embed === undefined) throw invalid("embed is required", "embed");
      const { protocol, call } = open(target.provider, ctx);
      return { embed: await protocol.embed(call, target.model, req.embed) };
    },

    async listModels(req, ctx) {
      if (req.provider === "") throw invalid("provider is required", "provider");
      const { protocol, call } = open(req.provider, ctx);
      return { models: await protocol.listModels(call) };
    },

    async probe(req, ctx) {
      const provider = req.target?.provider ?? "";
      if (provider === "") throw invalid("target.provider is required", "target.provider");
      const { protocol, call } = open(provider, ctx);
      const result = await protocol.probe(call);
      return { healthy: result.healthy, latencyMs: BigInt(result.latencyMs), message: result.message };
    },
  };

  return {
    service,
    async close() {
      unsubscribe();
      await upstream.close();
    },
  };
}

/**
 * Just the RPC implementation, for hosts that never shut down the pools
 * explicitly (they close with the process). Prefer `createOpenAIAdapter`.
 */
export function createOpenAIAdapterService(deps: OpenAIAdapterDeps): ServiceImpl<typeof AdapterService> {
  return createOpenAIAdapter(deps).service;
}

/** Binds one provider, cancellation signal and the shared pools into the call a protocol uses. */
function createCall(provider: ResolvedProvider, signal: AbortSignal, upstream: UpstreamClient, logger: Logger): UpstreamCall {
  return {
    provider,
    signal,
    logger,
    async send(request) {
      const started = performance.now();
      const response = await upstream.send(
        {
          method: request.method,
          url: endpointUrl(provider.baseUrl, request.path),
          headers: request.headers,
          body: request.body,
          signal,
          timeoutMs: provider.timeoutMs,
        },
        provider.name,
      );
      // Never log headers or bodies: they hold the key and the user's data.
      logger.debug("upstream answered", {
        provider: provider.name,
        method: request.method,
        path: request.path,
        status: response.status,
        ms: Math.round(performance.now() - started),
      });
      return response;
    },
    readText: (response) => readBodyText(response, provider.name, signal),
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

function requireTarget(target: Target | undefined): Target {
  if (target === undefined || target.provider === "") throw invalid("target.provider is required", "target.provider");
  if (target.model === "") throw invalid("target.model is required", "target.model");
  return target;
}

function requireChat(chat: ChatRequest | undefined): ChatRequest {
  if (chat === undefined) throw invalid("chat is required", "chat");
  return chat;
}

function invalid(message: string, param: string) {
  return meshError(Code.InvalidArgument, message, { reason: Reason.InvalidRequest, param });
}
