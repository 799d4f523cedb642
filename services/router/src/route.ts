import { Code, type Client, type HandlerContext } from "@connectrpc/connect";
import { meshError, Reason, type ConfigSnapshot, type Logger } from "@llmmesh/common";
import type { AdapterService } from "@llmmesh/proto";
import type { Admission, AdmissionRequest } from "./admission.js";
import { runAttempts, type AttemptCallOptions, type AttemptResult, type Candidate } from "./attempts.js";
import { startDeadline, type RequestDeadline } from "./deadline.js";
import type { Settlement } from "./settlement.js";
import type { ModelPlan, PlannedTarget } from "./targets.js";

/** A client of one adapter deployable. */
export type AdapterClient = Client<typeof AdapterService>;

/** What routing a request needs from the service. */
export interface RouteDeps {
  /** Admits a request at policy, or on a lease policy granted. */
  admit: (ctx: HandlerContext, snapshot: ConfigSnapshot, request: AdmissionRequest) => Promise<Admission>;
  adapterFor: (adapterName: string) => AdapterClient | undefined;
  logger: Logger;
  planFor: (snapshot: ConfigSnapshot, model: string) => ModelPlan | undefined;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  settle: (settlement: Settlement) => void;
  reportMissingAdapter: (snapshot: ConfigSnapshot, planned: PlannedTarget) => void;
}

/** One admitted request on its way to the model's targets. */
export interface Route {
  readonly admission: Admission;
  readonly plan: ModelPlan;
  readonly deadline: RequestDeadline;
  /** Runs the retry/fallback loop with `call` as one attempt. */
  attempt<T>(call: (client: AdapterClient, planned: PlannedTarget, options: AttemptCallOptions) => Promise<T>): Promise<AttemptResult<T>>;
}

/**
 * Admits a request at policy, then finds its model's plan on the same
 * snapshot and starts its deadline. Admission comes first so that a caller
 * without a valid key learns that before whether a model exists.
 */
export async function openRoute(
  deps: RouteDeps,
  snapshot: ConfigSnapshot,
  ctx: HandlerContext,
  request: AdmissionRequest,
): Promise<Route> {
  const admission = await deps.admit(ctx, snapshot, request);
  const plan = deps.planFor(snapshot, request.model);
  if (!plan) {
    // Policy knew the model but this revision does not: a config change raced the request.
    deps.settle({ admission, model: request.model, target: undefined, usage: undefined, succeeded: false });
    throw meshError(Code.NotFound, `The model '${request.model}' does not exist or you do not have access to it.`, {
      reason: Reason.ModelNotFound,
      param: "model",
    });
  }
  const candidates: Candidate<AdapterClient>[] = plan.targets.map((planned) => {
    const client = deps.adapterFor(planned.adapterName);
    if (!client) deps.reportMissingAdapter(snapshot, planned);
    return { planned, client };
  });
  const deadline = startDeadline({
    caller: ctx,
    timeoutMs: plan.routing.timeout_ms,
    clientTimeoutMs: ctx.timeoutMs(),
    describe: () => `The request for model '${plan.model}'`,
  });
  return {
    admission,
    plan,
    deadline,
    attempt: (call) =>
      runAttempts({
        model: plan.model,
        candidates,
        retries: plan.routing.retries,
        backoffMs: plan.routing.backoff_ms,
        deadline,
        sleep: deps.sleep,
        random: deps.random,
        call,
        onFailure: (planned, error, verdict) =>
          deps.logger.debug("attempt failed", { model: plan.model, target: planned.servedBy, code: error.code, verdict: verdict.kind }),
      }),
  };
}

/**
 * Returns a reporter that warns about an unreachable adapter once per
 * revision and adapter name, never once per request.
 */
export function createMissingAdapterReporter(logger: Logger): (snapshot: ConfigSnapshot, planned: PlannedTarget) => void {
  const reported = new WeakMap<ConfigSnapshot, Set<string>>();
  return (snapshot, planned) => {
    let names = reported.get(snapshot);
    if (!names) {
      names = new Set();
      reported.set(snapshot, names);
    }
    if (names.has(planned.adapterName)) return;
    names.add(planned.adapterName);
    logger.warn("no adapter reachable; its targets are skipped", { adapter: planned.adapterName, provider: planned.provider, revision: snapshot.revision });
  };
}
