import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { meshError, Reason, type ConfigSnapshot, type ConfigStore, type Logger } from "@llmmesh/common";
import {
  AdmitResponseSchema,
  GetUsageResponseSchema,
  LeaseResponseSchema,
  Operation,
  PrincipalSchema,
  SettleResponseSchema,
  SettleBatchResponseSchema,
  type AdmitRequest,
  type AdmitResponse,
  type GetUsageRequest,
  type GetUsageResponse,
  type LeaseRequest,
  type LeaseResponse,
  type PolicyService,
  type SettleRequest,
  type SettleResponse,
  type SettleBatchRequest,
  type SettleBatchResponse,
  type Usage,
} from "@llmmesh/proto";
import { maskApiKey, sha256Hex } from "./api-key.js";
import { createKeyIndexCache, type KeyEntry } from "./key-index.js";
import { LIMITED_LEASE_TTL_MS, returnLease, takeLease, UNLIMITED_LEASE_TTL_MS, type Lease } from "./leases.js";
import { RateLimiter, type KeyBuckets } from "./rate-limiter.js";
import { ReservationBook } from "./reservations.js";
import { UsageLedger } from "./usage-ledger.js";

/** What the policy service needs. */
export interface PolicyServiceDeps {
  config: ConfigStore;
  logger: Logger;
  /** The clock for rate limits and reservations, in milliseconds (tests inject one). */
  now?: () => number;
  /** Where `${ENV}` key references resolve (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** The principal of callers when no keys are configured. */
const OPEN_ACCESS: KeyEntry = Object.freeze({
  id: "",
  tenant: "default",
  allowedModels: Object.freeze([]),
  allowedSet: undefined,
  rpm: undefined,
  tpm: undefined,
});

const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";

/**
 * The policy service: authenticates API keys (failing closed), checks which
 * models a key may use, enforces per-key RPM/TPM token buckets and keeps usage
 * totals per key and tenant. All state is in this process's memory.
 *
 * Routers admit most requests on leases (see `lease`): a key's principal and
 * a share of its limits, taken from its buckets here and given back unused;
 * the requests admitted on a lease settle against the key, not a reservation.
 *
 * Admit never scans the config: keys are found by the SHA-256 of the presented
 * key in an index built once per config revision.
 */
export function createPolicyService(deps: PolicyServiceDeps): ServiceImpl<typeof PolicyService> {
  const now = deps.now ?? Date.now;
  const limiter = new RateLimiter();
  const reservations = new ReservationBook();
  // A lease not returned within a minute (its router died) keeps its capacity charged.
  const leases = new ReservationBook<Lease>({ ttlMs: 60_000 });
  const ledger = new UsageLedger();
  const keyIndexFor = createKeyIndexCache({
    logger: deps.logger,
    env: deps.env,
    onBuild: (index) => limiter.retain(index.keyIds),
  });

  function authenticate(snapshot: ConfigSnapshot, apiKey: string): KeyEntry {
    const index = keyIndexFor(snapshot);
    if (index.openAccess) return OPEN_ACCESS;
    if (apiKey === "") throw meshError(Code.Unauthenticated, MISSING_KEY_MESSAGE, { reason: Reason.MissingApiKey });
    const entry = index.byDigest.get(sha256Hex(apiKey));
    if (!entry) {
      throw meshError(Code.Unauthenticated, `Incorrect API key provided: ${maskApiKey(apiKey)}.`, { reason: Reason.InvalidApiKey });
    }
    return entry;
  }

  function authorizeModel(snapshot: ConfigSnapshot, key: KeyEntry, model: string): void {
    if (model === "") {
      throw meshError(Code.InvalidArgument, "You must provide a model parameter.", { reason: Reason.InvalidRequest, param: "model" });
    }
    if (!snapshot.models.has(model)) {
      throw meshError(Code.NotFound, `The model '${model}' does not exist or you do not have access to it.`, {
        reason: Reason.ModelNotFound,
        param: "model",
      });
    }
    if (key.allowedSet && !key.allowedSet.has(model)) {
      throw meshError(Code.PermissionDenied, `The API key '${key.id}' is not allowed to use the model '${model}'.`, {
        reason: Reason.ModelNotAllowed,
        param: "model",
      });
    }
  }

  /** Checks both buckets before taking from either, so a refusal costs the caller nothing. */
  function reserve(key: KeyEntry, buckets: KeyBuckets, estimatedTokens: number, at: number): number {
    const { requests, tokens } = buckets;
    if (requests && requests.level(at) < 1) {
      throw rateLimited(`Rate limit reached for requests per minute (RPM) on key '${key.id}': limit ${requests.capacity}.`, requests.msUntil(1, at));
    }
    // TPM admits while the bucket is positive: the real size of an answer is
    // unknown until Settle, so a request is never refused for its estimate alone.
    if (tokens && tokens.level(at) <= 0) {
      throw rateLimited(`Rate limit reached for tokens per minute (TPM) on key '${key.id}': limit ${tokens.capacity}.`, tokens.msUntil(1, at));
    }
    requests?.take(1, at);
    if (!tokens) return 0;
    tokens.take(estimatedTokens, at);
    return estimatedTokens;
  }

  /**
   * Records the usage of a request a router admitted with a lease. Many
   * requests settle against one lease, and long after it ended, so the key
   * comes from the principal policy gave the router, not from a record here.
   */
  const settleLeased = (request: SettleRequest): void => {
    const keyId = request.principal?.keyId ?? "";
    const { promptTokens, completionTokens, totalTokens } = usageNumbers(request.usage);
    if (keyId !== "") limiter.existing(keyId)?.tokens?.take(totalTokens - nonNegative(request.reservedTokens), now());
    ledger.record({
      keyId,
      tenant: request.principal?.tenant ?? OPEN_ACCESS.tenant,
      requests: request.succeeded ? 1 : 0,
      promptTokens,
      completionTokens,
    });
  };

  /** Turns one reservation into usage. Unknown ids (settled twice, expired, or from another replica) are ignored: settling is idempotent. */
  const settleOne = (request: SettleRequest): void => {
    if (request.leaseId !== "") return settleLeased(request);
    const reservation = request.reservationId === "" ? undefined : reservations.close(request.reservationId);
    if (!reservation) return;
    const { promptTokens, completionTokens, totalTokens } = usageNumbers(request.usage);
    // Charge the real total against the key's TPM bucket, minus what Admit already took
    // (a negative charge returns the unused part of the reservation).
    reservation.tokenBucket?.take(totalTokens - reservation.reservedTokens, now());
    ledger.record({
      keyId: reservation.keyId,
      tenant: reservation.tenant,
      requests: request.succeeded ? 1 : 0,
      promptTokens,
      completionTokens,
    });
  };

  return {
    admit(request: AdmitRequest): AdmitResponse {
      // One snapshot for the whole decision, so a reload mid-request cannot mix two revisions.
      const snapshot = deps.config.current();
      const key = authenticate(snapshot, request.apiKey);
      const operation = request.operation;
      if (operation === Operation.LIST_MODELS) {
        // Listing models is free: no limits, nothing to settle.
        return create(AdmitResponseSchema, { principal: principalOf(key), reservationId: "" });
      }
      if (operation !== Operation.CHAT && operation !== Operation.COMPLETE && operation !== Operation.EMBED) {
        throw meshError(Code.InvalidArgument, "Admit needs an operation.", { reason: Reason.InvalidRequest, param: "operation" });
      }
      authorizeModel(snapshot, key, request.model);
      const at = now();
      const estimated = Math.max(0, Number(request.estimatedTokens));
      const buckets = key.id === "" ? undefined : limiter.bucketsFor(key.id, key, at);
      const reservedTokens = buckets ? reserve(key, buckets, estimated, at) : 0;
      const reservationId = reservations.open({
        keyId: key.id,
        tenant: key.tenant,
        tokenBucket: buckets?.tokens,
        reservedTokens,
        createdAt: at,
      });
      return create(AdmitResponseSchema, { principal: principalOf(key), reservationId });
    },

    lease(request: LeaseRequest): LeaseResponse {
      const snapshot = deps.config.current();
      const key = authenticate(snapshot, request.apiKey);
      const at = now();
      const buckets = key.id === "" ? undefined : limiter.bucketsFor(key.id, key, at);
      const grant = takeLease(buckets, at);
      const limited = grant.requests !== undefined || grant.tokens !== undefined;
      const held = { buckets, requests: grant.requests ?? 0, tokens: grant.tokens ?? 0, createdAt: at };
      // Only a lease that took capacity is kept for its return; the id of any other just marks its settlements.
      const leaseId = held.requests > 0 || held.tokens > 0 ? leases.open(held) : randomUUID();
      return create(LeaseResponseSchema, {
        principal: principalOf(key),
        leaseId,
        revision: snapshot.revision,
        ttlMs: BigInt(limited ? LIMITED_LEASE_TTL_MS : UNLIMITED_LEASE_TTL_MS),
        requests: grant.requests === undefined ? undefined : BigInt(grant.requests),
        tokens: grant.tokens === undefined ? undefined : BigInt(grant.tokens),
      });
    },

    settle(request: SettleRequest): SettleResponse {
      settleOne(request);
      return create(SettleResponseSchema);
    },

    settleBatch(request: SettleBatchRequest): SettleBatchResponse {
      for (const settlement of request.settlements) settleOne(settlement);
      if (request.leaseReturns.length > 0) {
        const at = now();
        // Unknown ids (returned twice, or expired) are ignored, so a return is idempotent.
        for (const returned of request.leaseReturns) {
          const lease = leases.close(returned.leaseId);
          if (lease) returnLease(lease, Number(returned.unusedRequests), Number(returned.unusedTokens), at);
        }
      }
      return create(SettleBatchResponseSchema);
    },

    getUsage(request: GetUsageRequest): GetUsageResponse {
      let totals;
      if (request.keyId !== "") totals = ledger.forKey(request.keyId);
      else if (request.tenant !== "") totals = ledger.forTenant(request.tenant);
      else throw meshError(Code.InvalidArgument, "GetUsage needs a key_id or a tenant.", { reason: Reason.InvalidRequest });
      return create(GetUsageResponseSchema, {
        requests: BigInt(totals.requests),
        promptTokens: BigInt(totals.promptTokens),
        completionTokens: BigInt(totals.completionTokens),
      });
    },
  };
}

function principalOf(key: KeyEntry) {
  return create(PrincipalSchema, { keyId: key.id, tenant: key.tenant, allowedModels: [...key.allowedModels] });
}

function rateLimited(message: string, retryAfterMs: number) {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return meshError(Code.ResourceExhausted, `${message} Please try again in ${seconds}s.`, {
    reason: Reason.RateLimited,
    retryAfterMs: BigInt(retryAfterMs),
  });
}

/** Token counts as numbers, never negative; the total falls back to prompt + completion. */
function usageNumbers(usage: Usage | undefined): { promptTokens: number; completionTokens: number; totalTokens: number } {
  if (!usage) return { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
  const promptTokens = nonNegative(usage.promptTokens);
  const completionTokens = nonNegative(usage.completionTokens);
  const total = nonNegative(usage.totalTokens);
  return { promptTokens, completionTokens, totalTokens: total > 0 ? total : promptTokens + completionTokens };
}

function nonNegative(value: bigint): number {
  return value > 0n ? Number(value) : 0;
}
