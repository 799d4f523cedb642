import { Code } from "@connectrpc/connect";
import { meshError, Reason, resolveSecret, type ConfigSnapshot, type ProviderConfig } from "@llmmesh/common";
import type { ResolvedProvider } from "./providers/provider.js";
import { DEFAULT_PROTOCOL } from "./providers/index.js";

/** Upstream timeout when a provider sets no `timeout_ms`. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Turns a provider name into its resolved settings for the config revision a
 * request runs on. Results are cached per provider config object: a snapshot
 * is immutable, so a new revision brings new objects and a fresh resolution,
 * while the request path of an unchanged revision never touches `env`.
 */
export class ProviderResolver {
  readonly #cache = new WeakMap<ProviderConfig, ResolvedProvider>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The provider `name` of `snapshot`; FailedPrecondition when it is unknown or incomplete. */
  resolve(snapshot: ConfigSnapshot, name: string): ResolvedProvider {
    const config = snapshot.providers.get(name);
    if (config === undefined) {
      throw meshError(Code.FailedPrecondition, `provider "${name}" is not configured (config revision ${snapshot.revision})`, {
        reason: Reason.ProviderMisconfigured,
        provider: name,
      });
    }
    const cached = this.#cache.get(config);
    if (cached !== undefined) return cached;
    const resolved = this.#resolve(config);
    this.#cache.set(config, resolved);
    return resolved;
  }

  #resolve(config: ProviderConfig): ResolvedProvider {
    const fail = (message: string) =>
      meshError(Code.FailedPrecondition, `provider "${config.name}" ${message}`, { reason: Reason.ProviderMisconfigured, provider: config.name });
    if (config.base_url === undefined) throw fail("has no base_url");
    const secrets: string[] = [];
    // resolveSecret's message names the missing variable, never a value, so it may be passed on.
    const secret = (value: string, field: string): string => {
      let resolved: string;
      try {
        resolved = resolveSecret(value, this.env);
      } catch (err) {
        throw fail(`${field}: ${(err as Error).message}`);
      }
      if (resolved !== value || field === "api_key") secrets.push(resolved);
      return resolved;
    };
    const apiKey = config.api_key === undefined ? undefined : secret(config.api_key, "api_key");
    const headers: Record<string, string> = {};
    for (const [header, value] of Object.entries(config.headers ?? {})) {
      headers[header.toLowerCase()] = secret(value, `headers.${header}`);
    }
    return {
      name: config.name,
      protocol: config.protocol ?? DEFAULT_PROTOCOL,
      baseUrl: new URL(config.base_url),
      apiKey,
      headers,
      timeoutMs: config.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      options: config.options ?? {},
      // Short values would scrub ordinary words out of messages; keys are never that short.
      secrets: secrets.filter((s) => s.length >= 6),
    };
  }
}
