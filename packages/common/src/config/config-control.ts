import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ConfigCheckRequestSchema,
  ConfigCheckResponseSchema,
  HeartbeatRequestSchema,
  InstanceStatusSchema,
  type ConfigApplied,
  type ConfigCheckResponse,
  type ConfigRejected,
  type InstanceStatus,
} from "@llmmesh/proto";
import type { Msg, NatsConnection } from "nats";
import { unifiedDiff } from "./config-diff.js";
import { subscribeConfigEvents, type ConfigEvent } from "./config-events.js";
import { documentDigest, newRecord, type StoredRevision } from "./config-record.js";
import { ConfigRepository } from "./config-repository.js";
import { ConfigError, parseConfig } from "./load.js";
import { literalSecretProblems } from "./stored-secrets.js";
import type { NatsNames } from "./subjects.js";

/** This process has no NATS connection right now (not configured, or NATS unreachable). */
export class ConfigStoreUnavailableError extends Error {
  constructor(message = "the config store (NATS) is not reachable from this process") {
    super(message);
    this.name = "ConfigStoreUnavailableError";
  }
}

/** A revision number the bucket's history does not hold (never stored, or aged out). */
export class RevisionNotFoundError extends Error {
  constructor(readonly revision: number) {
    super(`revision ${revision} is not in the bucket's history (see \`llmmesh config history\`)`);
    this.name = "RevisionNotFoundError";
  }
}

/** Live instances would refuse the document: nothing was stored. */
export class ConfigRefusedError extends Error {
  constructor(
    /** One entry per problem: `<service> <instance>: <problem>`. */
    readonly problems: readonly string[],
    readonly checks: readonly ConfigCheckResponse[],
  ) {
    super(`refused by the running services, nothing stored:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigRefusedError";
  }
}

/** How to push. */
export interface PushOptions {
  /** Who pushes, recorded with the revision (user@host, "admin-api"). */
  author: string;
  note?: string;
  /** Validate, check with the fleet and diff, but store nothing. */
  dryRun?: boolean;
  /** Skip asking the live instances first (they still refuse, one by one, what they cannot apply). */
  skipFleetCheck?: boolean;
  /** Store only if the bucket is empty (the initial seed); otherwise leave it. */
  ifEmpty?: boolean;
  /** Allow literal secrets in the stored document (see literalSecretProblems). */
  allowLiteralSecrets?: boolean;
  /** After storing, wait up to this long for every live instance to report the revision (0: do not wait). */
  waitMs?: number;
  /** Set by rollback: the revision whose document this is. */
  rollbackOf?: number;
}

/** How every instance took a new revision. */
export interface RolloutReport {
  readonly revision: number;
  /** When the store began (wall clock): the start of the propagation `elapsedMs` measures. */
  readonly storedAt: Date;
  readonly applied: readonly ConfigApplied[];
  readonly rejected: readonly ConfigRejected[];
  /** Instances known before the push that reported nothing within the wait. */
  readonly silent: readonly string[];
  /** From just before the store to the last report (or to the end of the wait). */
  readonly elapsedMs: number;
}

/** What a push did. */
export interface PushResult {
  /** stored; unchanged (same document as the current revision); not-empty (ifEmpty and a revision exists); dry-run. */
  readonly status: "stored" | "unchanged" | "not-empty" | "dry-run";
  /** The new revision when stored; otherwise the current one, if any. */
  readonly revision: number | undefined;
  readonly digest: string;
  /** The revision current before the push. */
  readonly previous: StoredRevision | undefined;
  /** Unified diff from the current revision's document to the pushed one ("" when equal). */
  readonly diff: string;
  /** Each live instance's answer to "could you apply it?". */
  readonly checks: readonly ConfigCheckResponse[];
  readonly rollout: RolloutReport | undefined;
}

/** How long fleet-wide questions wait: until `quietMs` pass without an answer, at most `maxWaitMs`. */
export interface FleetTiming {
  quietMs: number;
  maxWaitMs: number;
}

const DEFAULT_TIMING: FleetTiming = { quietMs: 250, maxWaitMs: 2_000 };

/**
 * The operators' config operations, one implementation for the CLI and the
 * gateway's admin API: validate, push (validate, check with every live
 * instance, diff, compare-and-set store, wait for the rollout), show,
 * history, rollback and fleet status.
 */
export class ConfigControl {
  #repository: Promise<ConfigRepository> | undefined;
  #repositoryConnection: NatsConnection | undefined;

  constructor(
    /** The NATS connection, when there is one now. */
    private readonly connection: () => NatsConnection | undefined,
    readonly names: NatsNames,
    private readonly timing: FleetTiming = DEFAULT_TIMING,
  ) {}

  /** Problems of `document` (schema, references, literal secrets); empty when it may be pushed. */
  validate(document: string, options: { allowLiteralSecrets?: boolean; source?: string } = {}): string[] {
    try {
      const snapshot = parseConfig(document, options.source);
      return options.allowLiteralSecrets ? [] : literalSecretProblems(snapshot.config);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  }

  /** The current revision; undefined when the bucket is empty. */
  async current(): Promise<StoredRevision | undefined> {
    return (await this.#repo()).current();
  }

  /** Revision `revision`, if the bucket still keeps it. */
  async revision(revision: number): Promise<StoredRevision | undefined> {
    return (await this.#repo()).revision(revision);
  }

  /** The revisions the bucket keeps, oldest first. */
  async history(): Promise<StoredRevision[]> {
    return (await this.#repo()).history();
  }

  /** Every live instance, by service then instance id. */
  async status(): Promise<InstanceStatus[]> {
    const replies = await this.#askFleet(this.names.status, toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema)));
    return replies
      .map((data) => fromBinary(InstanceStatusSchema, data))
      .sort((a, b) => a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId));
  }

  /** Asks every live instance whether it could apply `document`; nothing is applied. */
  async check(document: string): Promise<ConfigCheckResponse[]> {
    const request = toBinary(ConfigCheckRequestSchema, create(ConfigCheckRequestSchema, { document }));
    const replies = await this.#askFleet(this.names.check, request);
    return replies.map((data) => fromBinary(ConfigCheckResponseSchema, data));
  }

  /**
   * Stores `document` as the next revision. Throws ConfigError (with the
   * path of each problem) for an invalid document, ConfigRefusedError when a
   * live instance would refuse it, ConfigConflictError when someone else
   * stored a revision meanwhile. Storing the current document again is a
   * no-op ("unchanged").
   */
  async push(document: string, options: PushOptions, source = "(pushed document)"): Promise<PushResult> {
    const digest = documentDigest(document);
    const problems = this.validate(document, { allowLiteralSecrets: options.allowLiteralSecrets, source });
    if (problems.length > 0) throw new ConfigError(source, problems);

    const repository = await this.#repo();
    const previous = await repository.current();
    const result = (status: PushResult["status"], extra: Partial<PushResult> = {}): PushResult => ({
      status,
      revision: previous?.revision,
      digest,
      previous,
      diff: "",
      checks: [],
      rollout: undefined,
      ...extra,
    });
    if (options.ifEmpty && previous) return result("not-empty");
    if (previous?.record.digest === digest) return result("unchanged");

    const diff = unifiedDiff(previous?.record.document ?? "", document, {
      before: previous ? `revision ${previous.revision} (${previous.record.digest})` : "(empty bucket)",
      after: `${source} (${digest})`,
    });
    const checks = options.skipFleetCheck ? [] : await this.check(document);
    const refusals = checks.flatMap((c) => c.problems.map((p) => `${c.service} ${c.instanceId}: ${p}`));
    if (refusals.length > 0 && !options.dryRun) throw new ConfigRefusedError(refusals, checks);
    if (options.dryRun) return result("dry-run", { revision: undefined, diff, checks });

    const waitMs = options.waitMs ?? 0;
    const expected = waitMs > 0 ? (options.skipFleetCheck ? (await this.status()).map((s) => s.instanceId) : checks.map((c) => c.instanceId)) : [];
    const rollout = waitMs > 0 ? this.#watchRollout(expected, waitMs) : undefined;
    let revision: number;
    try {
      revision = await repository.store(newRecord(document, { author: options.author, note: options.note, rollbackOf: options.rollbackOf }), previous?.revision);
    } catch (err) {
      rollout?.cancel();
      throw err;
    }
    return result("stored", { revision, diff, checks, rollout: await rollout?.finish(revision) });
  }

  /** Stores revision `revision`'s document again as the next revision (history stays linear and auditable). */
  async rollback(revision: number, options: PushOptions): Promise<PushResult> {
    const target = await this.revision(revision);
    if (!target) throw new RevisionNotFoundError(revision);
    return this.push(
      target.record.document,
      { ...options, rollbackOf: revision, note: options.note ?? `rollback to revision ${revision}` },
      `revision ${revision}`,
    );
  }

  /** Sends `request` to every responder of `subject`; their answers until `quietMs` pass without one. */
  async #askFleet(subject: string, request: Uint8Array): Promise<Uint8Array[]> {
    const nc = this.#connection();
    const answers: Uint8Array[] = [];
    let replies: AsyncIterable<Msg>;
    try {
      // Loaded already: the connection came from it.
      const { RequestStrategy } = await import("nats");
      replies = await nc.requestMany(subject, request, {
        strategy: RequestStrategy.JitterTimer,
        jitter: this.timing.quietMs,
        maxWait: this.timing.maxWaitMs,
      });
    } catch (err) {
      if (isNoResponders(err)) return answers;
      throw err;
    }
    try {
      for await (const msg of replies) answers.push(msg.data);
    } catch (err) {
      // "No responders": no instance is alive, which is an answer too.
      if (!isNoResponders(err)) throw err;
    }
    return answers;
  }

  /** Starts listening for config events before the store, so the fastest instance is not missed. */
  #watchRollout(expected: readonly string[], waitMs: number): { finish(revision: number): Promise<RolloutReport>; cancel(): void } {
    const nc = this.#connection();
    const started = performance.now();
    const storedAt = new Date();
    const events: Array<{ report: ConfigEvent; at: number }> = [];
    let onEvent: () => void = () => {};
    const subscription = subscribeConfigEvents(nc, this.names, (report) => {
      events.push({ report, at: performance.now() });
      onEvent();
    });
    return {
      cancel: () => subscription.unsubscribe(),
      finish: async (revision) => {
        const matching = () => events.filter((e) => e.report.event.revision === BigInt(revision));
        const reported = () => new Set(matching().map((e) => e.report.event.instanceId));
        const complete = () => expected.every((id) => reported().has(id));
        if (!complete()) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            onEvent = () => {
              if (complete()) {
                clearTimeout(timer);
                resolve();
              }
            };
          });
        }
        const finishedAt = performance.now();
        subscription.unsubscribe();
        const done = matching();
        const seen = reported();
        const lastAt = complete() ? Math.max(started, ...done.map((e) => e.at)) : finishedAt;
        return {
          revision,
          storedAt,
          applied: done.flatMap((e) => (e.report.kind === "applied" ? [e.report.event] : [])),
          rejected: done.flatMap((e) => (e.report.kind === "rejected" ? [e.report.event] : [])),
          silent: expected.filter((id) => !seen.has(id)),
          elapsedMs: Math.round(lastAt - started),
        };
      },
    };
  }

  #connection(): NatsConnection {
    const nc = this.connection();
    if (!nc || nc.isClosed()) throw new ConfigStoreUnavailableError();
    return nc;
  }

  #repo(): Promise<ConfigRepository> {
    const nc = this.#connection();
    if (!this.#repository || this.#repositoryConnection !== nc) {
      this.#repositoryConnection = nc;
      this.#repository = ConfigRepository.open(nc, this.names);
      // A failed open (JetStream not ready yet) is retried on the next call.
      this.#repository.catch(() => (this.#repository = undefined));
    }
    return this.#repository;
  }
}

function isNoResponders(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "503";
}
