import { createHook } from "node:async_hooks";

/**
 * How many promises this process makes while `run` runs (async_hooks sees
 * every one, whoever makes it: code under test, Node, the test itself), for
 * tests about what a path costs per message.
 */
export async function promisesMadeWhile(run: () => void | Promise<void>): Promise<number> {
  let made = 0;
  const hook = createHook({ init: (_id, type) => void (type === "PROMISE" && made++) }).enable();
  try {
    // A synchronous `run` is not awaited: the await would make a promise of its own.
    const running = run();
    if (running !== undefined) await running;
  } finally {
    hook.disable();
  }
  return made;
}
