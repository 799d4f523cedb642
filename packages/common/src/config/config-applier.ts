import { ConfigSource } from "@llmmesh/proto";
import type { Logger } from "../logger.js";
import { documentDigest } from "./config-record.js";
import { ConfigError, parseConfig } from "./load.js";
import type { ConfigSnapshot } from "./snapshot.js";
import { ConfigStore } from "./store.js";
import type { InstanceState, RunningRevision } from "./status.js";

/** Where an offered document comes from. */
export interface ConfigOrigin {
  readonly source: ConfigSource;
  /** Bucket revision; 0 for a local file. */
  readonly revision: number;
  /** Human-readable, e.g. a path or `nats:llmmesh-config@12`; becomes the snapshot's `source`. */
  readonly label: string;
}

/**
 * A service-specific check of a revision that passed the schema (for
 * example the router: every adapter has an address it can call). Returns
 * problems naming the path at fault; empty means acceptable.
 */
export type ConfigValidator = (snapshot: ConfigSnapshot) => string[];

/** What became of an offered document. */
export type ApplyOutcome =
  | {
      readonly kind: "applied";
      readonly origin: ConfigOrigin;
      readonly snapshot: ConfigSnapshot;
      /** What ran before; undefined for the first revision. */
      readonly previous: RunningRevision | undefined;
      /** Same document as the one running: nothing was swapped. */
      readonly unchanged: boolean;
    }
  | {
      readonly kind: "rejected";
      readonly origin: ConfigOrigin;
      readonly digest: string;
      readonly problems: readonly string[];
      /** What keeps running; undefined when nothing runs yet. */
      readonly running: RunningRevision | undefined;
    };

/**
 * The one place a process takes a new config revision, whatever its source
 * (the bucket, the local file): parse and validate it (schema, references,
 * then every hosted component's own check), and only if all pass swap it
 * into the ConfigStore whole. Requests in flight keep the snapshot they
 * started with; the next `current()` sees the new one. A refused revision
 * changes nothing but the reported last error.
 */
export class ConfigApplier {
  #store: ConfigStore | undefined;
  #lastBucketRevision = 0;
  readonly #listeners = new Set<(outcome: ApplyOutcome) => void>();
  readonly #ready: Promise<ConfigStore>;
  #resolveReady!: (store: ConfigStore) => void;

  constructor(
    private readonly options: {
      validate: ConfigValidator;
      state: InstanceState;
      logger: Logger;
    },
  ) {
    this.#ready = new Promise((resolve) => (this.#resolveReady = resolve));
  }

  /** The store, once a first revision was accepted. */
  get store(): ConfigStore | undefined {
    return this.#store;
  }

  /** Resolves with the store when a first revision is accepted. */
  ready(): Promise<ConfigStore> {
    return this.#ready;
  }

  /** Calls `listener` after each applied or refused revision; returns the unsubscribe function. */
  onOutcome(listener: (outcome: ApplyOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Problems that would make this process refuse `document`; nothing is applied. */
  check(document: string, label = "(check)"): string[] {
    const parsed = this.#parse(document, label);
    return "problems" in parsed ? parsed.problems : [];
  }

  /**
   * Validates and applies `document`. Returns undefined for a bucket revision
   * already seen (a watch replays the current value after each reconnect).
   */
  offer(document: string, origin: ConfigOrigin): ApplyOutcome | undefined {
    const { state, logger } = this.options;
    if (origin.source === ConfigSource.NATS) {
      if (origin.revision <= this.#lastBucketRevision) return undefined;
      this.#lastBucketRevision = origin.revision;
    }
    const previous = state.running;
    const parsed = this.#parse(document, origin.label);
    if ("problems" in parsed) {
      const outcome: ApplyOutcome = { kind: "rejected", origin, digest: parsed.digest, problems: parsed.problems, running: previous };
      state.recordError(`revision ${describe(origin)} refused: ${parsed.problems.join("; ")}`);
      logger.warn(previous ? "config revision refused; still serving the last good one" : "config revision refused; nothing to serve yet", {
        revision: origin.revision,
        digest: parsed.digest,
        source: origin.label,
        problems: parsed.problems,
        running: previous?.revision,
        runningDigest: previous?.digest,
      });
      this.#emit(outcome);
      return outcome;
    }

    const snapshot = parsed.snapshot;
    const unchanged = this.#store !== undefined && this.#store.current().revision === snapshot.revision;
    if (!unchanged) {
      if (this.#store === undefined) {
        this.#store = new ConfigStore(snapshot);
        this.#resolveReady(this.#store);
      } else {
        this.#store.apply(snapshot);
      }
    }
    state.recordRunning({ revision: origin.revision, digest: snapshot.revision, source: origin.source });
    const outcome: ApplyOutcome = { kind: "applied", origin, snapshot, previous, unchanged };
    if (!(unchanged && origin.source === ConfigSource.FILE)) {
      logger.info(unchanged ? "config revision recorded (same document)" : "config revision applied", {
        revision: origin.revision,
        digest: snapshot.revision,
        source: origin.label,
        previous: previous?.revision,
        previousDigest: previous?.digest,
      });
    }
    this.#emit(outcome);
    return outcome;
  }

  #parse(document: string, label: string): { snapshot: ConfigSnapshot } | { problems: string[]; digest: string } {
    let snapshot: ConfigSnapshot;
    try {
      snapshot = parseConfig(document, label);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [String(err)];
      return { problems, digest: documentDigest(document) };
    }
    let problems: string[];
    try {
      problems = this.options.validate(snapshot);
    } catch (err) {
      // A validator that throws is a bug; refusing is the safe answer.
      problems = [`internal error while validating: ${err instanceof Error ? err.message : String(err)}`];
    }
    return problems.length > 0 ? { problems, digest: snapshot.revision } : { snapshot };
  }

  #emit(outcome: ApplyOutcome): void {
    for (const listener of this.#listeners) {
      try {
        listener(outcome);
      } catch (err) {
        this.options.logger.error("config outcome listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

function describe(origin: ConfigOrigin): string {
  return origin.source === ConfigSource.NATS ? String(origin.revision) : origin.label;
}
