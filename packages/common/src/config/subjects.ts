/**
 * Every NATS name LLM Mesh uses, defined once. A prefix (default "llmmesh",
 * env LLMMESH_NATS_PREFIX) namespaces them all, so several meshes (or test
 * runs) can share one NATS server without seeing each other's config.
 */

/** The prefix when LLMMESH_NATS_PREFIX is not set. */
export const DEFAULT_NATS_PREFIX = "llmmesh";

/** Revisions the bucket keeps per key (NATS allows at most 64). */
export const CONFIG_HISTORY = 50;

/** The NATS names of one mesh. */
export interface NatsNames {
  readonly prefix: string;
  /** The JetStream key-value bucket holding the config document. */
  readonly bucket: string;
  /** The key of the config document in `bucket`. */
  readonly key: string;
  /** Published by an instance when it starts serving a revision (a ConfigApplied). */
  readonly applied: string;
  /** Published by an instance when it refuses a revision (a ConfigRejected). */
  readonly rejected: string;
  /** Both event subjects, for a subscriber that wants every config event. */
  readonly events: string;
  /** Request/reply: a HeartbeatRequest, answered by every live instance with its InstanceStatus. */
  readonly status: string;
  /** Request/reply: a ConfigCheckRequest, answered by every live instance with a ConfigCheckResponse. */
  readonly check: string;
}

// One subject token, and also a valid bucket-name fragment.
const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The names under `prefix`: bucket `<prefix>-config`, subjects
 * `<prefix>.events.config.applied` and so on. Throws on a prefix that is not
 * one NATS subject token (letters, digits, `_`, `-`).
 */
export function natsNames(prefix: string = DEFAULT_NATS_PREFIX): NatsNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new Error(`invalid NATS prefix "${prefix}": use 1-64 letters, digits, "_" or "-"`);
  }
  return {
    prefix,
    bucket: `${prefix}-config`,
    key: "current",
    applied: `${prefix}.events.config.applied`,
    rejected: `${prefix}.events.config.rejected`,
    events: `${prefix}.events.config.*`,
    status: `${prefix}.status`,
    check: `${prefix}.config.check`,
  };
}

/** The names a process uses, from LLMMESH_NATS_PREFIX. */
export function natsNamesFromEnv(env: NodeJS.ProcessEnv): NatsNames {
  return natsNames(env.LLMMESH_NATS_PREFIX || DEFAULT_NATS_PREFIX);
}
