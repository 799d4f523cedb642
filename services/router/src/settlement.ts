import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@llmmesh/common";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AdmitResponse, PolicyService, SettleRequestSchema, Target, Usage } from "@llmmesh/proto";

/** How one admitted request ended, for policy's accounting. */
export interface Settlement {
  admission: AdmitResponse;
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

/** The Settle request for a finished request; undefined when it reserved nothing (listing models). */
function toSettleRequest({ admission, model, target, usage, succeeded }: Settlement): MessageInitShape<typeof SettleRequestSchema> | undefined {
  if (admission.reservationId === "") return undefined;
  return { reservationId: admission.reservationId, principal: admission.principal, model, target, usage, succeeded };
}

function logSettleFailure(logger: Logger, err: unknown, requests: number): void {
  const error = ConnectError.from(err);
  logger.warn("settle failed; usage of these requests is not recorded (their reservations expire at policy)", { requests, code: error.code, error: error.rawMessage });
}

/** A settler that collects settlements and sends them in batches; `flush` sends what is pending. */
export interface BatchingSettler {
  settle(settlement: Settlement): void;
  /** Sends every pending settlement now (on shutdown); resolves when policy answered. */
  flush(): Promise<void>;
}

/**
 * Reports finished requests to policy in batches: one SettleBatch per
 * `maxBatch` settlements or per `delayMs`, whichever comes first, instead of
 * one Settle per request — one RPC fewer per request on the mesh's busiest
 * path. Accounting lags by at most `delayMs`; the client's answer never waits.
 */
export function createBatchingSettler(
  policy: Client<typeof PolicyService>,
  logger: Logger,
  options: { maxBatch?: number; delayMs?: number } = {},
): BatchingSettler {
  const maxBatch = options.maxBatch ?? 256;
  const delayMs = options.delayMs ?? 2;
  let pending: MessageInitShape<typeof SettleRequestSchema>[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const send = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const settlements = pending;
    pending = [];
    if (settlements.length === 0) return Promise.resolve();
    return policy.settleBatch({ settlements }).then(
      () => undefined,
      (err: unknown) => logSettleFailure(logger, err, settlements.length),
    );
  };

  return {
    settle(settlement) {
      const request = toSettleRequest(settlement);
      if (!request) return;
      pending.push(request);
      if (pending.length >= maxBatch) void send();
      else if (!timer) {
        timer = setTimeout(() => void send(), delayMs);
        // Pending accounting must not keep an idle process alive; shutdown flushes it.
        timer.unref();
      }
    },
    flush: send,
  };
}
