import { Code } from "@connectrpc/connect";
import { meshError, Reason, type ProviderConfig } from "@llmmesh/common";

/** The mock's settings, from the provider's `options`. */
export interface MockOptions {
  /** Pause between streamed chunks, in milliseconds. */
  readonly delayMs: number;
  /** A fixed reply text instead of the default echo. */
  readonly reply: string | undefined;
}

/** Pause between streamed chunks when `delay_ms` is not set: slow enough to see streaming work. */
export const DEFAULT_DELAY_MS = 20;
const MAX_DELAY_MS = 60_000;

/**
 * Reads and checks a mock provider's `options` (`delay_ms`, `reply`). An
 * unknown key is an error, as everywhere in config: a typo that silently does
 * nothing is the worst kind of config bug.
 */
export function mockOptions(provider: ProviderConfig): MockOptions {
  const options = provider.options ?? {};
  const fail = (message: string) =>
    meshError(Code.FailedPrecondition, `provider "${provider.name}" options: ${message}`, { reason: Reason.ProviderMisconfigured, provider: provider.name });
  for (const key of Object.keys(options)) {
    if (key !== "delay_ms" && key !== "reply") throw fail(`unknown option "${key}" (the mock knows delay_ms and reply)`);
  }
  const delay = options.delay_ms ?? DEFAULT_DELAY_MS;
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || delay > MAX_DELAY_MS) {
    throw fail(`delay_ms must be a number of milliseconds from 0 to ${MAX_DELAY_MS}`);
  }
  const reply = options.reply;
  if (reply !== undefined && typeof reply !== "string") throw fail("reply must be a string");
  return { delayMs: delay, reply };
}
