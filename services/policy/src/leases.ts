import type { KeyBuckets } from "./rate-limiter.js";

/**
 * A lease holds at most this share of a key's per-minute limit (3 s of its
 * refill): several routers can each hold one without starving the others, and
 * a busy key still renews only every few hundred requests.
 */
const LEASE_SHARE_OF_LIMIT = 1 / 20;

/**
 * How long a router may admit with a lease of a key that has limits. Short, so
 * that capacity a router leased and did not use comes back (with the lease's
 * return) within a second.
 */
export const LIMITED_LEASE_TTL_MS = 1_000;

/**
 * How long a router may admit with a lease of a key without limits (or under
 * open access). There is nothing to give back; a revision that changes the
 * key ends the lease at once (it names its revision), so this only bounds how
 * long a router trusts a policy it no longer hears from.
 */
export const UNLIMITED_LEASE_TTL_MS = 10_000;

/** Capacity leased to a router, held until the router returns what it did not use. */
export interface Lease {
  readonly buckets: KeyBuckets | undefined;
  readonly requests: number;
  readonly tokens: number;
  readonly createdAt: number;
}

/** What one lease grants: undefined where the key has no such limit. */
export interface LeaseGrant {
  readonly requests: number | undefined;
  readonly tokens: number | undefined;
}

/**
 * Takes a lease's capacity from a key's buckets: a share of each limit,
 * never more than the bucket holds. A key with a bucket at its limit gets a
 * lease of nothing (requests 0) and takes nothing: its requests go to Admit,
 * which refuses them with the time to wait.
 */
export function takeLease(buckets: KeyBuckets | undefined, at: number): LeaseGrant {
  const requests = buckets?.requests;
  const tokens = buckets?.tokens;
  const grantRequests = requests ? Math.min(Math.floor(requests.level(at)), shareOf(requests.capacity)) : undefined;
  const grantTokens = tokens ? Math.min(Math.floor(tokens.level(at)), shareOf(tokens.capacity)) : undefined;
  if ((grantRequests !== undefined && grantRequests < 1) || (grantTokens !== undefined && grantTokens < 1)) {
    return { requests: 0, tokens: grantTokens === undefined ? undefined : 0 };
  }
  if (grantRequests !== undefined) requests?.take(grantRequests, at);
  if (grantTokens !== undefined) tokens?.take(grantTokens, at);
  return { requests: grantRequests, tokens: grantTokens };
}

/** Gives back what a router did not use of a lease, never more than the lease held. */
export function returnLease(lease: Lease, unusedRequests: number, unusedTokens: number, at: number): void {
  const requests = Math.min(Math.max(0, unusedRequests), lease.requests);
  if (requests > 0) lease.buckets?.requests?.take(-requests, at);
  const tokens = Math.min(Math.max(0, unusedTokens), lease.tokens);
  if (tokens > 0) lease.buckets?.tokens?.take(-tokens, at);
}

function shareOf(limit: number): number {
  return Math.max(1, Math.floor(limit * LEASE_SHARE_OF_LIMIT));
}
