import { createHash } from "node:crypto";

/**
 * Hex SHA-256 of an API key. Keys are looked up by this digest so the
 * plain-text key never needs to sit in a map, and lookup cost does not depend
 * on which characters of a guessed key happen to match.
 */
export function sha256Hex(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

/** Keys this short are masked completely: showing 6 of their characters would show most of the key. */
const SHORTEST_PARTLY_SHOWN = 12;

/**
 * A key as it may appear in an error message: the first 4 and last 2
 * characters, the rest replaced by a fixed `****` (which also hides the
 * length). Never returns the whole key.
 */
export function maskApiKey(apiKey: string): string {
  if (apiKey.length < SHORTEST_PARTLY_SHOWN) return "****";
  return `${apiKey.slice(0, 4)}****${apiKey.slice(-2)}`;
}
