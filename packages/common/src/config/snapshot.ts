import type { KeyConfig, MeshConfig, ModelConfig, ProviderConfig } from "./schema.js";

/**
 * One validated config revision with its lookups precomputed, so the request
 * path never scans the document. Immutable: a new revision is a new snapshot,
 * and a request keeps the one it started with.
 */
export class ConfigSnapshot {
  readonly models: ReadonlyMap<string, ModelConfig>;
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly keysById: ReadonlyMap<string, KeyConfig>;

  constructor(
    readonly config: MeshConfig,
    /** A short content hash of the document; identical documents share it. */
    readonly revision: string,
    /** Where the document came from (a path, or a NATS revision later). */
    readonly source: string,
  ) {
    deepFreeze(config);
    this.models = new Map(config.models.map((m) => [m.name, m]));
    this.providers = new Map(config.providers.map((p) => [p.name, p]));
    this.keysById = new Map(config.keys.map((k) => [k.id, k]));
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}
