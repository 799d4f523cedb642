import { ConnectError } from "@connectrpc/connect";
import type { ConfigSnapshot } from "@llmmesh/common";
import { protocols } from "./providers/index.js";
import { ProviderResolver } from "./provider-resolver.js";

/**
 * adapter-openai's own check of a config revision: every provider it serves
 * (`adapter: <adapterName>`) must resolve here, in this process's
 * environment: a base_url, a protocol it speaks, and every `${ENV_VAR}` its
 * key and headers reference set. That is what makes a key rotation safe: a
 * revision naming a variable this replica lacks is refused (and reported),
 * and the replica keeps serving with the key it has.
 */
export function checkOpenAIProviders(snapshot: ConfigSnapshot, env: NodeJS.ProcessEnv, adapterName = "openai"): string[] {
  const resolver = new ProviderResolver(env);
  const problems: string[] = [];
  snapshot.config.providers.forEach((provider, i) => {
    if (provider.adapter !== adapterName) return;
    try {
      const resolved = resolver.resolve(snapshot, provider.name);
      if (!protocols.has(resolved.protocol)) {
        problems.push(`providers[${i}].protocol: adapter-openai does not speak "${resolved.protocol}" (it speaks ${[...protocols.keys()].join(", ")})`);
      }
    } catch (err) {
      // The resolver's messages name the provider and the variable, never a secret's value.
      const message = err instanceof ConnectError ? err.rawMessage : err instanceof Error ? err.message : String(err);
      problems.push(`providers[${i}]: ${message}`);
    }
  });
  return problems;
}
