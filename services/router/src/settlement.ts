import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@llmmesh/common";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PolicyService, SettleRequestSchema, Target, Usage } from "@llmmesh/proto";
import type { Admission } from "./admission.js";
import type { LeaseReturnInit } from "./admission-leases.js";

/** How one admitted request ended, for policy's accounting. */
export interface Settlement {
  admission: Admission;
  /** The client's model name. */
  model: string;
  /** The target that served the request, or the last one tried. */
  target: Target | undefined;
  usage: Usage | undefined;
  succeeded: boolean;
}

/**
 * Returns a function that reports a finished request to policy without
 * waiting: the client's answer never waits for, or fails because of,
 * accounting. A failed Settle is logged at warn (the reservation then expires
 * at policy).
 */
export function createSettler(policy: Client<typeof PolicyService>, logger: Logger): (settlement: Settlement) => void {
  return (settlement) => {
    const request = toSettleRequest(settlement);
    // No signal from the request: it may be aborted by the time this runs, and the settlement must still land.
    if (request) policy.settle(request).catch((err: unknown) => logSettleFailure(logger, err, 1));
  };
}

/**
 * Returns a function that gives policy back what a lease left unused, one
 * call each, without waiting (where no batching settler carries them).
 */
export function createLeaseReturner(policy: Client<typeof PolicyService>, logger: Logger): (returned: LeaseReturnInit) => void {
  return (returned) => {
    policy.settleBatch({ leaseReturns: [returned] }).catch((err: unknown) => logReturnFailure(logger, err, 1));
  };
}

/** The Settle request for a finished request; undefined when it reserved nothing (listing models). */
function toSettleRequest({ admission, model, target, usage, succeeded }: Settlement): MessageInitShape<typeof SettleRequestSchema> | undefined {
  const { reservationId, leaseId, reservedTokens, principal } = admission;
  if (reservationId === "" && leaseId === "") return undefined;
  return { reservationId, leaseId, reservedTokens: BigInt(reservedTokens), principal, model, target, usage, succeeded };
}

function logSettleFailure(logger: Logger, err: unknown, requests: number): void {
  const error = ConnectError.from(err);
  logger.warn("settle failed; usage of these requests is not recorded (their reservations expire at policy)", { requests, code: error.code, error: error.rawMessage });
}

function logReturnFailure(logger: Logger, err: unknown, leases: number): void {
  const error = ConnectError.from(err);
  logger.warn("lease return failed; the capacity these leases did not use stays charged until it refills", { leases, code: error.code, error: error.rawMessage });
}

/** A settler that collects settlements and lease returns and sends them in batches; `flush` sends what is pending. */
export interface BatchingSettler {
  settle(settlement: Settlement): void;
  returnLease(returned: LeaseReturnInit): void;
  /** Sends every pending settlement now (on shutdown); resolves when policy answered. */
  flush(): Promise<void>;
}

/**
 * Reports finished requests, and what leases left unused, to policy in
 * batches: one SettleBatch per `maxBatch` items or per `delayMs`, whichever
 * comes first, instead of one Settle per request — one RPC fewer per request
 * on the mesh's busiest path. Accounting lags by at most `delayMs`; the
 * client's answer never waits. The default window (50 ms) keeps a busy
 * router to about 20 calls a second (waking policy costs more than the
 * call's own work), while usage and token limits lag by a twentieth of a
 * second.
 */
export function createBatchingSettler(
  policy: Client<typeof PolicyService>,
  logger: Logger,
  options: { maxBatch?: number; delayMs?: number } = {},
): BatchingSettler {
  const maxBatch = options.maxBatch ?? 256;
  const delayMs = options.delayMs ?? 50;
  let pending: MessageInitShape<typeof SettleRequestSchema>[] = [];
  let pendingReturns: LeaseReturnInit[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const send = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const settlements = pending;
    const leaseReturns = pendingReturns;
    pending = [];
    pendingReturns = [];
    if (settlements.length === 0 && leaseReturns.length === 0) return Promise.resolve();
    return policy.settleBatch({ settlements, leaseReturns }).then(
      () => undefined,
      (err: unknown) => {
        if (settlements.length > 0) logSettleFailure(logger, err, settlements.length);
        if (leaseReturns.length > 0) logReturnFailure(logger, err, leaseReturns.length);
      },
    );
  };

  const queued = () => {
    if (pending.length + pendingReturns.length >= maxBatch) void send();
    else if (!timer) {
      timer = setTimeout(() => void send(), delayMs);
      // Pending accounting must not keep an idle process alive; shutdown flushes it.
      timer.unref();
    }
  };

  return {
    settle(settlement) {
      const request = toSettleRequest(settlement);
      if (!request) return;
      pending.push(request);
      queued();
    },
    returnLease(returned) {
      pendingReturns.push(returned);
      queued();
    },
    flush: send,
  };
}
