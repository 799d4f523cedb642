import * as v8 from "node:v8";

/**
 * `@llmmesh/common/boot`: the entry point of every service's `main`, kept
 * apart from the package's index so that importing it loads nothing else.
 */

const GROWTH_FACTOR_FLAG = "--semi-space-growth-factor";
/** V8's own growth factor of the young generation. */
const V8_GROWTH_FACTOR = 2;

/** True when node's command line (or NODE_OPTIONS) sizes the young generation itself. */
function youngGenerationSetByOperator(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const sized = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;
  return execArgv.some((arg) => sized.test(arg)) || sized.test(nodeOptions ?? "");
}

/**
 * Runs `start`, which loads the process's modules (by dynamic import: see
 * below) and resolves once it serves; on a start-up failure prints why (no
 * stack) and exits 1.
 *
 * While it starts, V8's young generation may not grow. Loading and
 * compiling the modules keeps most of what it allocates, so V8 would take it
 * for a busy process and grow its young generation to the largest size (32
 * MiB) before the first request: every process then idled about 10 MiB
 * larger (76 against 85 MiB for the policy service). Once the process
 * serves, V8 sizes it as usual, to the load that actually comes. Modules
 * imported statically by `main` would be loaded before this runs, hence the
 * dynamic imports in `start`.
 */
export function runMain(start: () => Promise<unknown>): void {
  const hold = !youngGenerationSetByOperator(process.execArgv, process.env.NODE_OPTIONS);
  if (hold) v8.setFlagsFromString(`${GROWTH_FACTOR_FLAG}=1`);
  start().then(
    () => {
      if (hold) v8.setFlagsFromString(`${GROWTH_FACTOR_FLAG}=${V8_GROWTH_FACTOR}`);
    },
    (err: unknown) => {
      process.stderr.write(`llmmesh: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
