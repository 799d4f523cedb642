import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type Client, type HandlerContext } from "@connectrpc/connect";
import { bearerToken, Header, type ConfigSnapshot, type ConfigStore, type Logger } from "@llmmesh/common";
import { Operation, PrincipalSchema, type ChatRequest, type LeaseResponse, type LeaseReturnSchema, type PolicyService, type Principal } from "@llmmesh/proto";
import { admit, type AdmissionRequest } from "./admission.js";

/** How policy let one request in: with a reservation of its own (Admit), or on a lease. */
export interface Admission {
  readonly principal: Principal | undefined;
  /** The request as policy rewrote it, when it did. */
  readonly chat?: ChatRequest | undefined;
  /** Admit's reservation; empty for a request admitted on a lease. */
  readonly reservationId: string;
  /** The lease that admitted the request; empty when Admit did. */
  readonly leaseId: string;
  /** Tokens the request took from its lease (0 when the lease has no token limit). */
  readonly reservedTokens: number;
}

/** What a router gives back of a lease it is done with. */
export type LeaseReturnInit = MessageInitShape<typeof LeaseReturnSchema>;

/** A lease the router admits with, and what is left of it. */
interface HeldLease {
  readonly principal: Principal;
  /** The principal's models as a set; undefined when every model is allowed. */
  readonly allowed: ReadonlySet<string> | undefined;
  readonly leaseId: string;
  readonly revision: string;
  readonly expiresAt: number;
  /** Infinity when the key has no request limit. */
  readonly grantedRequests: number;
  readonly grantedTokens: number;
  requests: number;
  tokens: number;
  /** When to ask for the next lease; brought forward once half of it is used. */
  renewAt: number;
}

/** Options of {@link AdmissionLeases}. */
export interface AdmissionLeasesOptions {
  policy: Client<typeof PolicyService>;
  config: ConfigStore;
  /** Sends back what a lease left unused (batched with settlements). */
  returnLease: (returned: LeaseReturnInit) => void;
  logger: Logger;
  /** Milliseconds (tests inject a clock). */
  now?: () => number;
  /** Keys with a lease at once; past it the least recently renewed is returned. */
  maxKeys?: number;
}

/** After a Lease call failed (policy down, or too old to lease), Admit alone is used this long. */
const PAUSE_AFTER_FAILURE_MS = 1_000;
/** After a renewal that brought nothing, the lease in hand is used this long before asking again. */
const RETRY_EMPTY_RENEWAL_MS = 100;
/** How often leases past their time are returned, while any is held. */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * Admission without a policy round trip for most requests. After a key's
 * first request is admitted at policy, the router asks for a lease: the
 * key's principal and a share of its limits (the capacity is taken from the
 * key's buckets at policy, so limits still hold across routers). Its next
 * requests are admitted here while the lease lasts; a new lease is fetched in
 * the background when half of it is used or half its time has passed, and
 * what a lease left unused goes back to policy. Everything a lease cannot
 * decide goes to Admit, which keeps every refusal (a bad key, a model not
 * allowed, a limit reached) exactly as policy words it: a model this router's
 * revision does not know or the principal may not use, a lease used up or
 * expired, a lease from another config revision.
 */
export class AdmissionLeases {
  readonly #options: AdmissionLeasesOptions;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** By the API key the client presented. */
  readonly #byKey = new Map<string, HeldLease>();
  /** Under open access every key has the same principal: one lease serves them all. */
  #openAccess: HeldLease | undefined;
  readonly #fetching = new Set<string>();
  #pausedUntil = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(options: AdmissionLeasesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Admits one request: on the key's lease when it can, at policy otherwise. */
  async admit(ctx: HandlerContext, snapshot: ConfigSnapshot, request: AdmissionRequest): Promise<Admission> {
    const apiKey = bearerToken(ctx.requestHeader.get(Header.Authorization)) ?? "";
    const leased = request.operation === Operation.LIST_MODELS ? undefined : this.#admitOnLease(apiKey, snapshot, request);
    if (leased) return leased;
    const admitted = await admit(this.#options.policy, ctx, apiKey, request);
    if (request.operation !== Operation.LIST_MODELS) this.#renewIfDue(apiKey, this.#leaseOf(apiKey), this.#now());
    return { principal: admitted.principal, chat: admitted.chat, reservationId: admitted.reservationId, leaseId: "", reservedTokens: 0 };
  }

  /** Returns every lease held (on shutdown). */
  close(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const held of this.#byKey.values()) this.#giveBack(held);
    this.#byKey.clear();
    if (this.#openAccess) this.#giveBack(this.#openAccess);
    this.#openAccess = undefined;
  }

  #leaseOf(apiKey: string): HeldLease | undefined {
    return this.#byKey.get(apiKey) ?? this.#openAccess;
  }

  #admitOnLease(apiKey: string, snapshot: ConfigSnapshot, request: AdmissionRequest): Admission | undefined {
    const held = this.#leaseOf(apiKey);
    if (!held) return undefined;
    const now = this.#now();
    if (now >= held.expiresAt || held.revision !== this.#options.config.current().revision) {
      this.#drop(apiKey, held);
      return undefined;
    }
    // A request still on the revision before a reload is admitted at policy; the lease stays for the new one.
    if (held.revision !== snapshot.revision) return undefined;
    if (held.requests < 1 || held.tokens <= 0) return undefined;
    if (!snapshot.models.has(request.model) || (held.allowed && !held.allowed.has(request.model))) return undefined;
    const halfRequests = held.grantedRequests / 2;
    const halfTokens = held.grantedTokens / 2;
    const tokensBefore = held.tokens;
    held.requests -= 1;
    const limitedTokens = held.grantedTokens !== Infinity;
    if (limitedTokens) held.tokens -= request.estimatedTokens;
    // Half used: renew now, while this lease still admits, so no request waits for the next one.
    if (held.requests < halfRequests || (tokensBefore >= halfTokens && held.tokens < halfTokens)) held.renewAt = Math.min(held.renewAt, now);
    this.#renewIfDue(apiKey, held, now);
    return {
      principal: held.principal,
      reservationId: "",
      leaseId: held.leaseId,
      reservedTokens: limitedTokens ? request.estimatedTokens : 0,
    };
  }

  #renewIfDue(apiKey: string, held: HeldLease | undefined, now: number): void {
    if (held && now < held.renewAt) return;
    if (now < this.#pausedUntil || this.#fetching.has(apiKey)) return;
    this.#fetching.add(apiKey);
    // No signal: the lease outlives the request that asked for it.
    this.#options.policy.lease({ apiKey }).then(
      (lease) => {
        this.#fetching.delete(apiKey);
        this.#take(apiKey, lease);
      },
      (err: unknown) => {
        this.#fetching.delete(apiKey);
        this.#pausedUntil = this.#now() + PAUSE_AFTER_FAILURE_MS;
        const error = ConnectError.from(err);
        this.#options.logger.debug("lease refused; admitting at policy per request", { code: error.code, error: error.rawMessage });
      },
    );
  }

  /** Holds a lease policy granted, in place of the one held before (which goes back). */
  #take(apiKey: string, lease: LeaseResponse): void {
    const now = this.#now();
    const ttlMs = Number(lease.ttlMs);
    const grantedRequests = lease.requests === undefined ? Infinity : Number(lease.requests);
    const grantedTokens = lease.tokens === undefined ? Infinity : Number(lease.tokens);
    const fresh: HeldLease = {
      principal: lease.principal ?? create(PrincipalSchema),
      allowed: lease.principal && lease.principal.allowedModels.length > 0 ? new Set(lease.principal.allowedModels) : undefined,
      leaseId: lease.leaseId,
      revision: lease.revision,
      expiresAt: now + ttlMs,
      grantedRequests,
      grantedTokens,
      requests: grantedRequests,
      tokens: grantedTokens,
      renewAt: now + ttlMs / 2,
    };
    // Policy decided on another revision than this router runs: admitting with it could mix the two.
    if (lease.revision !== this.#options.config.current().revision) return this.#giveBack(fresh);
    const openAccess = fresh.principal.keyId === "";
    const current = openAccess ? this.#openAccess : this.#byKey.get(apiKey);
    if (current && grantedRequests < 1 && current.requests >= 1 && current.tokens > 0 && now < current.expiresAt && current.revision === fresh.revision) {
      // An empty renewal took nothing: keep admitting with what is left, and ask again shortly.
      current.renewAt = now + RETRY_EMPTY_RENEWAL_MS;
      return;
    }
    if (current) this.#giveBack(current);
    if (openAccess) {
      this.#openAccess = fresh;
    } else {
      this.#byKey.delete(apiKey);
      if (this.#byKey.size >= this.#maxKeys) this.#evictOldest();
      this.#byKey.set(apiKey, fresh);
    }
    this.#sweepWhileHeld();
  }

  #drop(apiKey: string, held: HeldLease): void {
    if (held === this.#openAccess) this.#openAccess = undefined;
    else this.#byKey.delete(apiKey);
    this.#giveBack(held);
  }

  #evictOldest(): void {
    for (const [apiKey, held] of this.#byKey) {
      this.#drop(apiKey, held);
      return;
    }
  }

  /** Sends policy what a lease did not use; a lease without limits has nothing to give back. */
  #giveBack(held: HeldLease): void {
    const unusedRequests = held.grantedRequests === Infinity ? 0 : held.requests;
    const unusedTokens = held.grantedTokens === Infinity ? 0 : Math.trunc(held.tokens);
    if (unusedRequests === 0 && unusedTokens === 0) return;
    this.#options.returnLease({ leaseId: held.leaseId, unusedRequests: BigInt(unusedRequests), unusedTokens: BigInt(unusedTokens) });
  }

  /** Returns leases past their time even when their key sends nothing more, so their capacity is not held idle. */
  #sweepWhileHeld(): void {
    if (this.#sweep) return;
    this.#sweep = setInterval(() => {
      const now = this.#now();
      for (const [apiKey, held] of this.#byKey) if (now >= held.expiresAt) this.#drop(apiKey, held);
      if (this.#openAccess && now >= this.#openAccess.expiresAt) this.#drop("", this.#openAccess);
      if (this.#byKey.size === 0 && !this.#openAccess) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, SWEEP_INTERVAL_MS);
    // Held leases must not keep an idle process alive; close() returns them.
    this.#sweep.unref();
  }
}
