import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createAdapterRpcs, meshError, Reason, unknownProtocolError, type ConfigStore, type Logger, type OpenedCall } from "@llmmesh/common";
import type { AdapterService } from "@llmmesh/proto";
import { DEFAULT_PROTOCOL, protocols } from "./providers/index.js";
import type { ProtocolCall } from "./providers/provider.js";

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
  const open = (providerName: string, ctx: HandlerContext): OpenedCall<ProtocolCall> => {
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
      throw unknownProtocolError({ adapter: "adapter-custom", provider: providerName, protocol: name, spoken: protocols.keys() });
    }
    return { protocol, call: { provider, snapshot, signal: ctx.signal, logger } };
  };

  return createAdapterRpcs(open);
}
