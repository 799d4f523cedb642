/** Header and metadata names, defined once. All lower case, as HTTP/2 requires. */
export const Header = {
  Authorization: "authorization",
  RequestId: "x-request-id",
  /** Which provider and upstream model served the request. */
  ServedBy: "x-llmmesh-served-by",
  /** How many upstream attempts it took. */
  Attempts: "x-llmmesh-attempts",
  /** Time the mesh itself added, in milliseconds. */
  OverheadMs: "x-llmmesh-overhead-ms",
  RetryAfter: "retry-after",
  RetryAfterMs: "retry-after-ms",
} as const;

/** The key from `Authorization: Bearer <key>`, or undefined when absent or malformed. */
export function bearerToken(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}
