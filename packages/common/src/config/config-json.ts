import { toJson } from "@bufbuild/protobuf";
import { InstanceStatusSchema, type InstanceStatus } from "@llmmesh/proto";
import type { StoredRevision } from "./config-record.js";
import type { PushResult } from "./config-control.js";

/**
 * The JSON shapes of config operations, shared by `llmmesh --json` and the
 * gateway's admin API so scripts see one format whichever they use.
 */

/** A stored revision; the document is included unless `withDocument` is false (history lists). */
export function revisionJson(stored: StoredRevision, withDocument = true) {
  return {
    revision: stored.revision,
    digest: stored.record.digest,
    stored_at: stored.storedAt.toISOString(),
    author: stored.record.author,
    note: stored.record.note,
    rollback_of: stored.record.rollbackOf > 0n ? Number(stored.record.rollbackOf) : null,
    ...(withDocument ? { document: stored.record.document } : {}),
  };
}

/** What a push or rollback did, with the fleet's checks and rollout. */
export function pushResultJson(result: PushResult) {
  return {
    status: result.status,
    revision: result.revision ?? null,
    digest: result.digest,
    previous_revision: result.previous?.revision ?? null,
    diff: result.diff,
    checks: result.checks.map((c) => ({ service: c.service, instance_id: c.instanceId, problems: c.problems })),
    rollout: result.rollout
      ? {
          revision: result.rollout.revision,
          elapsed_ms: result.rollout.elapsedMs,
          applied: result.rollout.applied.map((a) => ({ service: a.service, instance_id: a.instanceId })),
          rejected: result.rollout.rejected.map((r) => ({ service: r.service, instance_id: r.instanceId, problems: r.problems })),
          silent: result.rollout.silent,
        }
      : null,
  };
}

/** One live instance (proto JSON: camelCase fields, RFC 3339 times, revision as a string). */
export function instanceJson(status: InstanceStatus) {
  return toJson(InstanceStatusSchema, status);
}
