import { adapterUrl, adapterUrlVariable, type ConfigSnapshot } from "@llmmesh/common";

/**
 * The router's own check of a config revision: every adapter a provider
 * names must have an address the router can call (http or https, from
 * LLMMESH_ADAPTER_<NAME>_URL, `adapters`, or the built-in default). The
 * schema only knows that an address is a URL; a revision the router could
 * not route is refused here, and the router keeps the revision it runs.
 */
export function checkAdapterAddresses(snapshot: ConfigSnapshot, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  snapshot.config.providers.forEach((provider, i) => {
    if (seen.has(provider.adapter)) return;
    seen.add(provider.adapter);
    const url = adapterUrl(provider.adapter, snapshot.config, env);
    const where = env[adapterUrlVariable(provider.adapter)] ? adapterUrlVariable(provider.adapter) : `adapters.${provider.adapter}`;
    if (url === undefined) {
      problems.push(`providers[${i}].adapter: adapter "${provider.adapter}" has no address (set adapters.${provider.adapter} or ${adapterUrlVariable(provider.adapter)})`);
    } else if (!isHttpUrl(url)) {
      problems.push(`${where}: adapter "${provider.adapter}" address "${url}" is not an http(s) URL the router can call`);
    }
  });
  return problems;
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
