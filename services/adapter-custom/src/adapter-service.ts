import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { meshError, Reason, type ConfigStore, type Logger } from "@llmmesh/common";
import { AdapterService, type ChatRequest, type Target } from "@llmmesh/proto";
import { DEFAULT_PROTOCOL, protocols } from "./providers/index.js";
import type { CustomProtocol, ProtocolCall } from "./providers/provider.js";

/** What adapter-custom needs. */
export interface CustomAdapterDeps {
  config: ConfigStore;
  logger: Logger;
}

/**
 * Creates adapter-custom's RPC implementation: each RPC names a target
 * provider, looked up in the config revision current when the RPC starts and
 * served by the protocol it names (default `mock`; see ./providers/index.ts).
 * Cancelling an RPC or passing its deadline stops the work at once.
 */
export function createCustomAdapterService(deps: CustomAdapterDeps): ServiceImpl<typeof AdapterService> {
  const logger = deps.logger.child({ service: "adapter-custom" });

  /** The protocol and call for one RPC against `providerName`. */
  const open = (providerName: string, ctx: HandlerContext): { protocol: CustomProtocol; call: ProtocolCall } => {
    const snapshot = deps.config.current();
    const provider = snapshot.providers.get(providerName);
    if (provider === undefined) {
      throw meshError(Code.FailedPrecondition, `provider "${providerName}" is not configured (config revision ${snapshot.revision})`, {
        reason: Reason.ProviderMisconfigured,
        provider: providerName,
      });
    }
    const name = provider.protocol ?? DEFAULT_PROTOCOL;
    const protocol = protocols.get(name);
    if (protocol === undefined) {
      throw meshError(
        Code.FailedPrecondition,
        `provider "${providerName}" uses protocol "${name}", which adapter-custom does not speak (it speaks: ${[...protocols.keys()].join(", ")})`,
        { reason: Reason.ProviderMisconfigured, provider: providerName },
      );
    }
    return { protocol, call: { provider, snapshot, signal: ctx.signal, logger } };
  };

  return {
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
