import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client, type HandlerContext } from "@connectrpc/connect";
import { bearerToken, Header, requestHeaderValue, type ConfigSnapshot, type ConfigStore, type Logger } from "@llmmesh/common";
import { Operation, PrincipalSchema, type LeaseResponse, type LeaseReturnSchema, type PolicyService, type Principal } from "@llmmesh/proto";
import { admit, type Admission, type AdmissionRequest } from "./admission.js";

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
  /** Infinity when the key has no token limit. */
  readonly grantedTokens: number;
  requests: number;
  tokens: number;
  /** When to ask for the next lease; brought forward once half of it is used. */
  renewAt: number;
  /** The renewal, waiting until this lease is used up or ends: no capacity changes hands on the way. */
  next: HeldLease | undefined;
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
  /** How often leases past their time are returned while any is held (tests shorten it). */
  sweepIntervalMs?: number;
}

/** After a Lease call failed (policy down, or too old to lease), Admit alone is used this long. */
const PAUSE_AFTER_FAILURE_MS = 1_000;
/** After a renewal that brought nothing, the lease in hand is used this long before asking again. */
const RETRY_EMPTY_RENEWAL_MS = 100;
/** How often leases past their time are returned, while any is held. */
const SWEEP_INTERVAL_MS = 1_000;
/** The slot of the one Lease call in flight for the open-access lease, whatever keys clients send. */
const OPEN_ACCESS_SLOT = Symbol("open access");

/**
 * Admission without a policy round trip for most requests. After a key's
 * first request is admitted at policy, the router asks for a lease: the
 * key's principal and a share of its limits (the capacity is taken from the
 * key's buckets at policy, so limits still hold across routers). Its next
 * requests are admitted here while the lease lasts. Once half of it is used,
 * or half its time has passed, the next lease is fetched in the background
 * and waits behind the one in hand, which is used to its end first; what a
 * lease leaves unused (at its expiry, a config change, shutdown) goes back
 * to policy. Everything a lease cannot decide goes to Admit, which keeps
 * every refusal (a bad key, a model not allowed, a limit reached) exactly as
 * policy words it: a model this router's revision does not know or the
 * principal may not use, a lease used up or expired, a lease from another
 * config revision. With policy unreachable, a lease in hand still admits
 * until it expires (1 s for a key with limits, 10 s without); after that,
 * Admit fails closed.
 */
export class AdmissionLeases {
  readonly #options: AdmissionLeasesOptions;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** By the API key the client presented. */
  readonly #byKey = new Map<string, HeldLease>();
  /** Under open access every key has the same principal: one lease serves them all. */
  #openAccess: HeldLease | undefined;
  /** The key (or the open-access slot) of each Lease call in flight: one at a time each. */
  readonly #fetching = new Set<string | symbol>();
  #pausedUntil = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: AdmissionLeasesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Admits one request: on the key's lease when it can, at policy otherwise. */
  async admit(ctx: HandlerContext, snapshot: ConfigSnapshot, request: AdmissionRequest): Promise<Admission> {
    const apiKey = bearerToken(requestHeaderValue(ctx, Header.Authorization)) ?? "";
    const leased = request.operation === Operation.LIST_MODELS ? undefined : this.#admitOnLease(apiKey, snapshot, request);
    if (leased) return leased;
    const admitted = await admit(this.#options.policy, ctx, apiKey, request);
    if (request.operation !== Operation.LIST_MODELS) this.#renewIfDue(apiKey, this.#leaseOf(apiKey), this.#now());
    return { principal: admitted.principal, chat: admitted.chat, reservationId: admitted.reservationId, leaseId: "", reservedTokens: 0 };
  }

  /** Returns every lease held (on shutdown); a lease granted after this goes straight back. */
  close(): void {
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const held of this.#byKey.values()) this.#giveBackWithNext(held);
    this.#byKey.clear();
    if (this.#openAccess) this.#giveBackWithNext(this.#openAccess);
    this.#openAccess = undefined;
  }

  #leaseOf(apiKey: string): HeldLease | undefined {
    return this.#byKey.get(apiKey) ?? this.#openAccess;
  }

  #admitOnLease(apiKey: string, snapshot: ConfigSnapshot, request: AdmissionRequest): Admission | undefined {
    // A request still on the revision before a reload is admitted at policy; the lease stays for the new one.
    if (snapshot.revision !== this.#options.config.current().revision) return undefined;
    const now = this.#now();
    const held = this.#leaseThatFits(apiKey, snapshot.revision, request, now);
    if (!held) return undefined;
    if (!snapshot.models.has(request.model) || (held.allowed && !held.allowed.has(request.model))) return undefined;
    const limitedTokens = held.grantedTokens !== Infinity;
    const requestsBefore = held.requests;
    const tokensBefore = held.tokens;
    held.requests -= 1;
    if (limitedTokens) held.tokens -= request.estimatedTokens;
    // Half used: renew now, while this lease still admits, so no request waits for the next one.
    // Only on crossing the half: a renewal that brings nothing is retried on its own time.
    if (crossesHalf(requestsBefore, held.requests, held.grantedRequests) || crossesHalf(tokensBefore, held.tokens, held.grantedTokens)) {
      held.renewAt = Math.min(held.renewAt, now);
    }
    this.#renewIfDue(apiKey, held, now);
    return {
      principal: held.principal,
      reservationId: "",
      leaseId: held.leaseId,
      reservedTokens: limitedTokens ? request.estimatedTokens : 0,
    };
  }

  /**
   * The key's lease, if it can admit this request: one expired or of another
   * revision is given back, and one used up gives way to the lease waiting
   * behind it. A lease never goes below zero: an estimate larger than what
   * is left goes to Admit, which charges it at once, so policy's buckets
   * always know of every token reserved.
   */
  #leaseThatFits(apiKey: string, revision: string, request: AdmissionRequest, now: number): HeldLease | undefined {
    for (;;) {
      const held = this.#leaseOf(apiKey);
      if (!held) return undefined;
      const current = now < held.expiresAt && held.revision === revision;
      if (current && fits(held, request.estimatedTokens)) return held;
      // Used up with no renewal in hand yet: Admit, until the renewal arrives.
      if (current && !held.next) return undefined;
      this.#retire(apiKey, held);
    }
  }

  #renewIfDue(apiKey: string, held: HeldLease | undefined, now: number): void {
    if (this.#closed || (held && (held.next || now < held.renewAt))) return;
    const slot = held !== undefined && held === this.#openAccess ? OPEN_ACCESS_SLOT : apiKey;
    if (now < this.#pausedUntil || this.#fetching.has(slot)) return;
    this.#fetching.add(slot);
    // No signal: the lease outlives the request that asked for it.
    this.#options.policy
      .lease({ apiKey })
      .then(
        (lease) => {
          this.#fetching.delete(slot);
          this.#take(apiKey, lease);
        },
        (err: unknown) => {
          this.#fetching.delete(slot);
          this.#refused(apiKey, ConnectError.from(err));
        },
      )
      .catch((err: unknown) => this.#options.logger.warn("lease not taken", { error: String(err) }));
  }

  /**
   * A Lease call failed. Policy unreachable or unable to lease: Admit alone
   * for a while. The key refused (a revision this router has not taken
   * yet removed it): its lease ends now, whatever time it had left.
   */
  #refused(apiKey: string, error: ConnectError): void {
    this.#pausedUntil = this.#now() + PAUSE_AFTER_FAILURE_MS;
    if (error.code === Code.Unauthenticated || error.code === Code.PermissionDenied) {
      const held = this.#leaseOf(apiKey);
      if (held) {
        this.#remove(apiKey, held);
        this.#giveBackWithNext(held);
      }
    }
    this.#options.logger.debug("lease refused; admitting at policy per request", { code: error.code, error: error.rawMessage });
  }

  /** Holds a lease policy granted: behind the one in hand while that one still admits, in its place otherwise. */
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
      next: undefined,
    };
    if (this.#closed) return this.#giveBack(fresh);
    if (lease.revision !== this.#options.config.current().revision) {
      // Policy decided on another revision than this router runs: admitting with it could mix the
      // two. Give it back, and lease again only once the two have had time to agree.
      this.#pausedUntil = now + PAUSE_AFTER_FAILURE_MS;
      return this.#giveBack(fresh);
    }
    const current = fresh.principal.keyId === "" ? this.#openAccess : this.#byKey.get(apiKey);
    if (current && !current.next && now < current.expiresAt && current.revision === fresh.revision && fits(current, 0)) {
      if (fits(fresh, 0)) current.next = fresh;
      // A renewal that brought nothing took nothing: keep admitting with what is left, and ask again shortly.
      else current.renewAt = now + RETRY_EMPTY_RENEWAL_MS;
      return;
    }
    if (current) {
      this.#remove(apiKey, current);
      this.#giveBackWithNext(current);
    }
    this.#hold(apiKey, fresh);
  }

  #hold(apiKey: string, held: HeldLease): void {
    if (held.principal.keyId === "") {
      this.#openAccess = held;
    } else {
      this.#byKey.delete(apiKey);
      if (this.#byKey.size >= this.#maxKeys) this.#evictOldest();
      this.#byKey.set(apiKey, held);
    }
    this.#sweepWhileHeld();
  }

  #remove(apiKey: string, held: HeldLease): void {
    if (held === this.#openAccess) this.#openAccess = undefined;
    else this.#byKey.delete(apiKey);
  }

  /** Ends a lease (what is left goes back); the one waiting behind it takes its place. */
  #retire(apiKey: string, held: HeldLease): void {
    this.#remove(apiKey, held);
    this.#giveBack(held);
    if (held.next) this.#hold(apiKey, held.next);
  }

  #evictOldest(): void {
    for (const [apiKey, held] of this.#byKey) {
      this.#remove(apiKey, held);
      this.#giveBackWithNext(held);
      return;
    }
  }

  #giveBackWithNext(held: HeldLease): void {
    this.#giveBack(held);
    if (held.next) this.#giveBack(held.next);
  }

  /** Sends policy what a lease did not use; a lease without limits has nothing to give back. */
  #giveBack(held: HeldLease): void {
    const unusedRequests = held.grantedRequests === Infinity ? 0 : held.requests;
    const unusedTokens = held.grantedTokens === Infinity ? 0 : held.tokens;
    if (unusedRequests === 0 && unusedTokens === 0) return;
    this.#options.returnLease({ leaseId: held.leaseId, unusedRequests: BigInt(unusedRequests), unusedTokens: BigInt(unusedTokens) });
  }

  /** Ends leases past their time even when their key sends nothing more, so their capacity is not held idle. */
  #sweepWhileHeld(): void {
    if (this.#sweep) return;
    this.#sweep = setInterval(() => {
      const now = this.#now();
      for (const [apiKey, held] of this.#byKey) if (now >= held.expiresAt) this.#retire(apiKey, held);
      if (this.#openAccess && now >= this.#openAccess.expiresAt) this.#retire("", this.#openAccess);
      if (this.#byKey.size === 0 && !this.#openAccess) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, this.#options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
    // Held leases must not keep an idle process alive; close() returns them.
    this.#sweep.unref();
  }
}

/** Whether a lease can admit one more request reserving `estimatedTokens`. */
function fits(held: HeldLease, estimatedTokens: number): boolean {
  return held.requests >= 1 && (held.grantedTokens === Infinity || (held.tokens > 0 && estimatedTokens <= held.tokens));
}

/** Whether taking one request's share moved a lease from at least half left to less (never for an unlimited one). */
function crossesHalf(before: number, after: number, granted: number): boolean {
  return granted !== Infinity && before >= granted / 2 && after < granted / 2;
}
