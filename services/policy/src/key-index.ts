import { type ConfigSnapshot, type KeyConfig, type Logger } from "@llmmesh/common";
import { sha256Hex } from "./api-key.js";
import { resolveKeySecret } from "./key-check.js";

/** What policy knows about one configured key, minus its secret. */
export interface KeyEntry {
  readonly id: string;
  readonly tenant: string;
  /** Models the key may use; empty means every model. */
  readonly allowedModels: readonly string[];
  /** The same list as a set, for O(1) checks; undefined when every model is allowed. */
  readonly allowedSet: ReadonlySet<string> | undefined;
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
}

/** The keys of one config revision, ready for per-request lookup. */
export interface KeyIndex {
  /** True when the config has no keys at all: every caller is admitted. */
  readonly openAccess: boolean;
  /** Usable keys by the hex SHA-256 of their secret. */
  readonly byDigest: ReadonlyMap<string, KeyEntry>;
  /** Ids of every configured key, usable or not. */
  readonly keyIds: ReadonlySet<string>;
}

/** Options of {@link createKeyIndexCache}. */
export interface KeyIndexCacheOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Called once for every index built, e.g. to drop state of removed keys. */
  onBuild?: (index: KeyIndex) => void;
}

/**
 * Returns a lookup that builds the key index of a snapshot on first use and
 * reuses it for every later request on that snapshot, so secrets are resolved
 * and hashed once per revision, never per request. Warnings (open access, an
 * unresolvable secret) are therefore logged once per revision.
 */
export function createKeyIndexCache(options: KeyIndexCacheOptions): (snapshot: ConfigSnapshot) => KeyIndex {
  // A WeakMap lets an old revision and its index be collected once no request uses it.
  const cache = new WeakMap<ConfigSnapshot, KeyIndex>();
  return (snapshot) => {
    let index = cache.get(snapshot);
    if (!index) {
      index = buildKeyIndex(snapshot, options.logger, options.env ?? process.env);
      cache.set(snapshot, index);
      options.onBuild?.(index);
    }
    return index;
  };
}

function buildKeyIndex(snapshot: ConfigSnapshot, logger: Logger, env: NodeJS.ProcessEnv): KeyIndex {
  const keys = snapshot.config.keys;
  const byDigest = new Map<string, KeyEntry>();
  const keyIds = new Set<string>();
  if (keys.length === 0) {
    logger.warn("no keys configured: open access", { revision: snapshot.revision });
    return { openAccess: true, byDigest, keyIds };
  }
  for (const key of keys) {
    keyIds.add(key.id);
    const digest = digestOf(key, logger, env, snapshot.revision);
    if (digest === undefined) continue;
    if (byDigest.has(digest)) {
      // Two ids with one secret would make the caller's identity ambiguous; the first wins.
      logger.warn("key shares its secret with an earlier key and is ignored", { keyId: key.id, revision: snapshot.revision });
      continue;
    }
    byDigest.set(digest, toEntry(key));
  }
  return { openAccess: false, byDigest, keyIds };
}

/** The digest a presented key must have to match `key`, or undefined when the key is unusable. */
function digestOf(key: KeyConfig, logger: Logger, env: NodeJS.ProcessEnv, revision: string): string | undefined {
  if (key.key_sha256 !== undefined) return key.key_sha256.toLowerCase();
  if (key.key === undefined) return undefined;
  const resolved = resolveKeySecret(key, env);
  if ("secret" in resolved) return sha256Hex(resolved.secret);
  logger.warn("key is unusable", { keyId: key.id, revision, problem: resolved.problem });
  return undefined;
}

function toEntry(key: KeyConfig): KeyEntry {
  const allowedModels = Object.freeze([...(key.models ?? [])]);
  return Object.freeze({
    id: key.id,
    tenant: key.tenant,
    allowedModels,
    allowedSet: allowedModels.length > 0 ? new Set(allowedModels) : undefined,
    rpm: key.limits?.rpm,
    tpm: key.limits?.tpm,
  });
}
