import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConfigAppliedSchema, ConfigRejectedSchema, type ConfigApplied, type ConfigRejected } from "@llmmesh/proto";
import type { NatsConnection, Subscription } from "nats";
import type { ApplyOutcome } from "./config-applier.js";
import type { InstanceIdentity } from "./status.js";
import type { NatsNames } from "./subjects.js";

/** A config event as received from NATS. */
export type ConfigEvent = { readonly kind: "applied"; readonly event: ConfigApplied } | { readonly kind: "rejected"; readonly event: ConfigRejected };

/** The event message for an apply outcome of this instance. */
export function eventFor(outcome: ApplyOutcome, identity: InstanceIdentity): ConfigEvent {
  const now = timestampFromDate(new Date());
  if (outcome.kind === "applied") {
    return {
      kind: "applied",
      event: create(ConfigAppliedSchema, {
        service: identity.service,
        instanceId: identity.instanceId,
        revision: BigInt(outcome.origin.revision),
        digest: outcome.snapshot.revision,
        source: outcome.origin.source,
        previousRevision: BigInt(outcome.previous?.revision ?? 0),
        unchanged: outcome.unchanged,
        appliedAt: now,
      }),
    };
  }
  return {
    kind: "rejected",
    event: create(ConfigRejectedSchema, {
      service: identity.service,
      instanceId: identity.instanceId,
      revision: BigInt(outcome.origin.revision),
      digest: outcome.digest,
      source: outcome.origin.source,
      problems: [...outcome.problems],
      runningRevision: BigInt(outcome.running?.revision ?? 0),
      runningDigest: outcome.running?.digest ?? "",
      rejectedAt: now,
    }),
  };
}

/**
 * Publishes an event on its subject (`<prefix>.events.config.applied` or
 * `.rejected`). While NATS is unreachable the client buffers it and sends it
 * on reconnect; events are reports, so losing one on a long outage is
 * acceptable (`llmmesh status` still shows the truth).
 */
export function publishConfigEvent(nc: NatsConnection, names: NatsNames, event: ConfigEvent): void {
  if (event.kind === "applied") nc.publish(names.applied, toBinary(ConfigAppliedSchema, event.event));
  else nc.publish(names.rejected, toBinary(ConfigRejectedSchema, event.event));
}

/** Calls `onEvent` for every config event of the mesh until the subscription is unsubscribed. */
export function subscribeConfigEvents(nc: NatsConnection, names: NatsNames, onEvent: (event: ConfigEvent) => void): Subscription {
  return nc.subscribe(names.events, {
    callback: (err, msg) => {
      if (err) return;
      try {
        if (msg.subject === names.applied) onEvent({ kind: "applied", event: fromBinary(ConfigAppliedSchema, msg.data) });
        else if (msg.subject === names.rejected) onEvent({ kind: "rejected", event: fromBinary(ConfigRejectedSchema, msg.data) });
      } catch {
        // Not one of ours (or a newer, incompatible version): ignore rather than crash a listener.
      }
    },
  });
}
