import { create } from "@bufbuild/protobuf";
import type { ConfigSnapshot, ModelConfig, RoutingConfig, TargetConfig } from "@llmmesh/common";
import { TargetSchema, type Target } from "@llmmesh/proto";

/** One target of a model, resolved against its provider. */
export interface PlannedTarget {
  /** The provider name, as the adapter knows it. */
  readonly provider: string;
  /** The adapter deployable that serves the provider (`providers[].adapter`). */
  readonly adapterName: string;
  /** What the adapter is sent; shared by every request on this revision, so never mutated. */
  readonly target: Target;
  /** `provider/model`, for the x-llmmesh-served-by header and logs. */
  readonly servedBy: string;
}

/** How to serve one configured model: its routing settings and its targets in attempt order. */
export interface ModelPlan {
  readonly model: string;
  readonly routing: RoutingConfig;
  readonly targets: readonly PlannedTarget[];
}

/**
 * Returns a lookup of the plan for a model name. Plans are built for a whole
 * snapshot on its first request and reused for every later request on it, so
 * the request path does no work proportional to the size of the config.
 */
export function createPlanCache(): (snapshot: ConfigSnapshot, model: string) => ModelPlan | undefined {
  const cache = new WeakMap<ConfigSnapshot, ReadonlyMap<string, ModelPlan>>();
  return (snapshot, model) => {
    let plans = cache.get(snapshot);
    if (!plans) {
      plans = buildPlans(snapshot);
      cache.set(snapshot, plans);
    }
    return plans.get(model);
  };
}

function buildPlans(snapshot: ConfigSnapshot): ReadonlyMap<string, ModelPlan> {
  const plans = new Map<string, ModelPlan>();
  for (const model of snapshot.config.models) {
    const targets = orderTargets(model).map((t) => planTarget(snapshot, t));
    plans.set(model.name, Object.freeze({ model: model.name, routing: model.routing, targets: Object.freeze(targets) }));
  }
  return plans;
}

/** The targets in the order the model's strategy tries them. */
function orderTargets(model: ModelConfig): readonly TargetConfig[] {
  switch (model.routing.strategy) {
    case "priority":
      return model.targets;
  }
}

function planTarget(snapshot: ConfigSnapshot, target: TargetConfig): PlannedTarget {
  // The config loader has checked that every target names a known provider.
  const provider = snapshot.providers.get(target.provider);
  return Object.freeze({
    provider: target.provider,
    adapterName: provider?.adapter ?? "",
    target: create(TargetSchema, { provider: target.provider, model: target.model }),
    servedBy: `${target.provider}/${target.model}`,
  });
}
