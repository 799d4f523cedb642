import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// V8's own collector, for tests about what stays reachable; the flag takes effect for contexts made after it.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Whether the object `ref` points at can be collected now: a few full
 * collections, each after the current job (a WeakRef holds its target until then).
 */
export async function isCollectable(ref: WeakRef<object>): Promise<boolean> {
  for (let round = 0; round < 3 && ref.deref() !== undefined; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    collectGarbage();
  }
  return ref.deref() === undefined;
}
