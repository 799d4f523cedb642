import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@llmmesh/common";
import type { AdmitResponse, PolicyService, Target, Usage } from "@llmmesh/proto";

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
  return ({ admission, model, target, usage, succeeded }) => {
    // Requests that reserved nothing (listing models) have nothing to settle.
    if (admission.reservationId === "") return;
    // No signal from the request: it may be aborted by the time this runs, and the settlement must still land.
    policy.settle({ reservationId: admission.reservationId, principal: admission.principal, model, target, usage, succeeded }).catch((err: unknown) => {
      const error = ConnectError.from(err);
      logger.warn("settle failed; usage of this request is not recorded", { model, code: error.code, error: error.rawMessage });
    });
  };
}
