import type { MeshConfig } from "../config/schema.js";

/** Where each service listens when nothing says otherwise (mesh mode on one host). */
export const DEFAULT_PORTS = {
  gateway: 8080,
  policy: 7001,
  router: 7002,
  "adapter-openai": 7101,
  "adapter-custom": 7102,
} as const;

const DEFAULT_ADAPTER_URLS: Record<string, string> = {
  openai: `http://127.0.0.1:${DEFAULT_PORTS["adapter-openai"]}`,
  custom: `http://127.0.0.1:${DEFAULT_PORTS["adapter-custom"]}`,
};

/** The environment variable that overrides an adapter's address, e.g. LLMMESH_ADAPTER_OPENAI_URL. */
export function adapterUrlVariable(adapterName: string): string {
  return `LLMMESH_ADAPTER_${adapterName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_URL`;
}

/** The router's or policy's address: env (LLMMESH_ROUTER_URL / LLMMESH_POLICY_URL), then config, then the default. */
export function serviceUrl(kind: "router" | "policy", config: MeshConfig, env: NodeJS.ProcessEnv): string {
  return env[`LLMMESH_${kind.toUpperCase()}_URL`] || config.services[kind] || `http://127.0.0.1:${DEFAULT_PORTS[kind]}`;
}

/** An adapter deployable's address: env, then config `adapters`, then the default for built-in ones. */
export function adapterUrl(adapterName: string, config: MeshConfig, env: NodeJS.ProcessEnv): string | undefined {
  return env[adapterUrlVariable(adapterName)] || config.adapters[adapterName] || DEFAULT_ADAPTER_URLS[adapterName];
}
