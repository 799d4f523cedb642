import * as v8 from "node:v8";

/**
 * How far V8 may let the old generation grow past what the last full
 * collection left alive, in percent. V8's own factor goes up to 4× when its
 * collector keeps up easily, and a gateway holding thousands of open streams
 * is that case: at 10,000 slow streams the five-process mesh held 2.2 GiB,
 * most of it garbage not yet collected; at 20 % it held 1.4 GiB, every
 * stream completing (bench/, `--streams 10000`). Steady request traffic
 * barely grows the old generation, so it runs no more full collections
 * (requests/s and CPU per request unchanged in alternating runs).
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 20;

const VARIABLE = "LLMMESH_HEAP_GROWTH_PERCENT";
const V8_FLAG = "--heap-growing-percent";

/**
 * The heap growth a process should set, from LLMMESH_HEAP_GROWTH_PERCENT
 * (default 20; 0 means V8's own heuristics): undefined when there is nothing
 * to set, also when node's own command line sets `--heap-growing-percent`,
 * which wins. Junk is refused with an error naming the variable.
 */
export function heapGrowthToSet(env: NodeJS.ProcessEnv, execArgv: readonly string[]): number | undefined {
  const raw = env[VARIABLE];
  const percent = raw === undefined || raw.trim() === "" ? DEFAULT_HEAP_GROWTH_PERCENT : Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new Error(`${VARIABLE} must be a whole number of percent from 0 (V8's own heuristics) to 1000, got "${raw}"`);
  }
  const onCommandLine = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return onCommandLine || percent === 0 ? undefined : percent;
}

/** Applies heapGrowthToSet to this process. */
export function applyHeapGrowth(env: NodeJS.ProcessEnv = process.env): void {
  const percent = heapGrowthToSet(env, process.execArgv);
  // V8 reads it at every full collection, so setting it at run time takes effect.
  if (percent !== undefined) v8.setFlagsFromString(`${V8_FLAG}=${percent}`);
}
