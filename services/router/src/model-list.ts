import { create } from "@bufbuild/protobuf";
import type { ConfigSnapshot } from "@llmmesh/common";
import { ModelInfoSchema, type ModelInfo, type Principal } from "@llmmesh/proto";

/**
 * Returns a lookup of the models a principal may see, in config order. The
 * full list is built once per snapshot; its `created` time is when this
 * process first listed that revision, so it stays stable between calls.
 */
export function createModelListCache(now: () => number = Date.now): (snapshot: ConfigSnapshot, principal: Principal | undefined) => ModelInfo[] {
  const cache = new WeakMap<ConfigSnapshot, readonly ModelInfo[]>();
  return (snapshot, principal) => {
    let all = cache.get(snapshot);
    if (!all) {
      const created = BigInt(Math.floor(now() / 1000));
      all = snapshot.config.models.map((m) => create(ModelInfoSchema, { id: m.name, created, ownedBy: m.owned_by ?? "llmmesh" }));
      cache.set(snapshot, all);
    }
    const allowed = principal?.allowedModels ?? [];
    if (allowed.length === 0) return [...all];
    const allowedSet = new Set(allowed);
    return all.filter((m) => allowedSet.has(m.id));
  };
}
