import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks a presented admin key against the configured one in constant time
 * (both hashed first, so neither length nor content leaks through timing).
 */
export function adminKeyMatches(presented: string | undefined, configured: string): boolean {
  if (presented === undefined || presented === "") return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(configured).digest();
  return timingSafeEqual(a, b);
}
