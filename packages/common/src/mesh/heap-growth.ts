import { PerformanceObserver, constants } from "node:perf_hooks";
import * as v8 from "node:v8";

/**
 * How much garbage a process's old generation may gather, past what the last
 * full collection kept alive, before the next one is due: 64 MiB. V8's own
 * heuristics let the heap grow to 4 times what the last collection kept when
 * the collector keeps up easily, and a gateway holding thousands of open
 * streams is that case: at 10,000 slow streams the five-process mesh held 2.2
 * to 2.4 GiB; with this bound, 1.6 GiB, every stream completing (bench/,
 * `--streams 10000`). A fixed percentage instead (20 %: 1.4 GiB) ran 5 to 20
 * times as many full collections as V8 on 100 KB to 1 MB prompts, at up to
 * 1.6 times the CPU per request; the bound costs nothing measurable at 100 KB
 * and a tenth to a fifth more CPU per request at 1 MB (1.7 times V8's full
 * collections), as a small heap may still grow up to V8's own largest step.
 */
export const DEFAULT_HEAP_SLACK_MIB = 64;
/** The least growth between full collections, however large the heap: below it they would run back to back. */
const MIN_GROWTH_PERCENT = 20;
/** V8's own largest growth factor, 4: a small heap may still grow as V8 would let it. */
const MAX_GROWTH_PERCENT = 300;

const VARIABLE = "LLMMESH_HEAP_SLACK_MIB";
const V8_FLAG = "--heap-growing-percent";

/**
 * The slack in bytes from LLMMESH_HEAP_SLACK_MIB (default 64; 0 leaves V8's
 * own heuristics), or undefined when there is nothing to manage: 0, or a
 * `--heap-growing-percent` on node's own command line, which wins. Junk is
 * refused with an error naming the variable.
 */
export function heapSlackToManage(env: NodeJS.ProcessEnv, execArgv: readonly string[]): number | undefined {
  const raw = env[VARIABLE];
  const mib = raw === undefined || raw.trim() === "" ? DEFAULT_HEAP_SLACK_MIB : Number(raw);
  if (!Number.isInteger(mib) || mib < 0 || mib > 65_536) {
    throw new Error(`${VARIABLE} must be a whole number of MiB from 0 (V8's own heuristics) to 65536, got "${raw}"`);
  }
  const onCommandLine = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return onCommandLine || mib === 0 ? undefined : mib * 2 ** 20;
}

/**
 * The growth to allow after a full collection left `liveBytes` alive, as V8's
 * `--heap-growing-percent`: the slack as a share of the live heap, never less
 * than 20 % and never more than V8's own largest step (4 times the live heap).
 */
export function growthPercentFor(liveBytes: number, slackBytes: number): number {
  const percent = liveBytes > 0 ? Math.ceil((slackBytes / liveBytes) * 100) : MAX_GROWTH_PERCENT;
  return Math.min(MAX_GROWTH_PERCENT, Math.max(MIN_GROWTH_PERCENT, percent));
}

/** A `gc` performance entry's kind is in its `detail` (Node's types do not say so). */
function isFullCollection(entry: object): boolean {
  return (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}

/** What the old generation holds: new space is emptied by every scavenge and does not count towards the limit. */
function oldGenerationBytes(): number {
  let bytes = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith("new_")) bytes += space.space_used_size;
  }
  return bytes;
}

/**
 * Keeps this process's heap growth at growthPercentFor after every full
 * collection. V8 reads the flag whenever a full collection sets the limit for
 * the next one, so a value set at run time takes effect from the next
 * collection on (this observer runs just after each).
 */
export function manageHeapGrowth(env: NodeJS.ProcessEnv = process.env): void {
  const slackBytes = heapSlackToManage(env, process.execArgv);
  if (slackBytes === undefined) return;
  // Until the first full collection, V8 sizes the heap as it always does.
  let current = 0;
  const observer = new PerformanceObserver((list) => {
    if (!list.getEntries().some(isFullCollection)) return;
    const percent = growthPercentFor(oldGenerationBytes(), slackBytes);
    if (percent === current) return;
    current = percent;
    v8.setFlagsFromString(`${V8_FLAG}=${percent}`);
  });
  observer.observe({ entryTypes: ["gc"] });
}
