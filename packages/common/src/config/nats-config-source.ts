import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { ConfigCheckRequestSchema, ConfigCheckResponseSchema, ConfigSource, InstanceStatusSchema } from "@llmmesh/proto";
import type { KvEntry, NatsConnection, QueuedIterator } from "nats";
import type { Logger } from "../logger.js";
import type { ConfigApplier } from "./config-applier.js";
import { ConfigControl } from "./config-control.js";
import { eventFor, publishConfigEvent } from "./config-events.js";
import { decodeRecord, newRecord } from "./config-record.js";
import { ConfigConflictError, ConfigRepository } from "./config-repository.js";
import { ConfigError, parseConfig } from "./load.js";
import { connectService } from "./nats-connection.js";
import type { InstanceState } from "./status.js";
import { literalSecretProblems } from "./stored-secrets.js";
import type { NatsNames } from "./subjects.js";

/** A local config document, for seeding an empty bucket. */
export interface LocalDocument {
  readonly text: string;
  readonly path: string;
}

/** What the NATS config source needs. */
export interface NatsConfigSourceOptions {
  /** NATS_URL: one URL or several, comma-separated. */
  url: string;
  names: NatsNames;
  applier: ConfigApplier;
  state: InstanceState;
  logger: Logger;
  /** The local document (LLMMESH_CONFIG), if this process has one: it seeds an empty bucket. */
  localDocument: () => Promise<LocalDocument | undefined>;
  /** Longest pause between reconnect attempts (default 5 s). */
  maxReconnectDelayMs?: number;
}

/** Pauses between failed attempts to read and watch the bucket (JetStream may still be starting). */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** A watch that never reports its initial replay is taken as replayed after this long. */
const INITIAL_REPLAY_LIMIT_MS = 5_000;

/**
 * Follows the config bucket: connects (in the background, forever), seeds
 * an empty bucket from the local document, watches the config key (a watch
 * replays the current value first, so a late starter gets the config) and
 * offers every revision to the applier. On each reconnect it watches again
 * from the current value, so revisions stored during an outage are caught
 * up. It also answers the fleet's heartbeats and pre-push checks, and
 * publishes an event for each revision applied or refused.
 */
export class NatsConfigSource {
  readonly #options: NatsConfigSourceOptions;
  #nc: NatsConnection | undefined;
  #watch: QueuedIterator<KvEntry> | undefined;
  #closed = false;
  #syncing = false;
  #syncAgain = false;
  #resolveSynced!: () => void;
  /** Resolves once connected, the bucket read (and seeded if empty) and the current value offered. */
  readonly synced: Promise<void>;
  /** The operators' config operations over this process's connection (the gateway's admin API). */
  readonly control: ConfigControl;

  private constructor(options: NatsConfigSourceOptions) {
    this.#options = options;
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
    this.control = new ConfigControl(() => this.#nc, options.names);
  }

  /** Starts following; returns at once (see `synced`). */
  static start(options: NatsConfigSourceOptions): NatsConfigSource {
    const source = new NatsConfigSource(options);
    source.#run().catch((err: unknown) => options.logger.error("NATS config source stopped", { error: errorText(err) }));
    return source;
  }

  /** The connection, once there is one. */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  /** Stops watching and drains the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watch?.stop();
    const nc = this.#nc;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  async #run(): Promise<void> {
    const { state, logger, names } = this.#options;
    const nc = await connectService({
      url: this.#options.url,
      name: `llmmesh ${state.identity.service} ${state.identity.instanceId}`,
      maxReconnectDelayMs: this.#options.maxReconnectDelayMs,
    });
    if (this.#closed) {
      await nc.close();
      return;
    }
    this.#nc = nc;
    logger.info("connected to NATS", { server: nc.getServer(), bucket: names.bucket });
    this.#serveFleet(nc);
    void this.#followConnection(nc);
    await this.#sync();
  }

  /** Heartbeats, pre-push checks, and an event per outcome. */
  #serveFleet(nc: NatsConnection): void {
    const { names, state, applier, logger } = this.#options;
    nc.subscribe(names.status, {
      callback: (err, msg) => {
        if (!err) msg.respond(toBinary(InstanceStatusSchema, state.toStatus()));
      },
    });
    nc.subscribe(names.check, {
      callback: (err, msg) => {
        if (err) return;
        let problems: string[];
        try {
          problems = applier.check(fromBinary(ConfigCheckRequestSchema, msg.data).document);
        } catch (cause) {
          problems = [`cannot read the check request: ${errorText(cause)}`];
        }
        const answer = create(ConfigCheckResponseSchema, { service: state.identity.service, instanceId: state.identity.instanceId, problems });
        msg.respond(toBinary(ConfigCheckResponseSchema, answer));
      },
    });
    applier.onOutcome((outcome) => {
      try {
        publishConfigEvent(nc, names, eventFor(outcome, state.identity));
      } catch (err) {
        logger.warn("could not publish a config event", { error: errorText(err) });
      }
    });
  }

  async #followConnection(nc: NatsConnection): Promise<void> {
    const { logger, state } = this.#options;
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        logger.warn("lost the NATS connection: serving the last good config revision and reconnecting", {
          revision: state.running?.revision,
          digest: state.running?.digest,
        });
      } else if (status.type === "reconnect") {
        logger.info("reconnected to NATS: catching up with the config bucket", { server: nc.getServer() });
        void this.#sync();
      }
    }
  }

  /** Reads (seeding if empty) and watches the bucket, retrying with backoff until it works; one at a time. */
  async #sync(): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = true;
    try {
      let delay = FIRST_RETRY_MS;
      do {
        this.#syncAgain = false;
        try {
          await this.#watchBucket();
          this.#resolveSynced();
        } catch (err) {
          if (this.#closed) return;
          this.#options.logger.warn("cannot read the config bucket yet; retrying", { error: errorText(err), retryInMs: delay });
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(MAX_RETRY_MS, delay * 2);
          this.#syncAgain = true;
        }
      } while (this.#syncAgain && !this.#closed);
    } finally {
      this.#syncing = false;
    }
  }

  async #watchBucket(): Promise<void> {
    const nc = this.#nc;
    if (!nc || this.#closed) return;
    const { names } = this.#options;
    const repository = await ConfigRepository.open(nc, names);
    if (!(await repository.current())) await this.#seed(repository);

    // Forget the old watch before stopping it, so its ending is not taken for a failure (which would resync).
    const previous = this.#watch;
    this.#watch = undefined;
    previous?.stop();
    let replayed!: () => void;
    const initialReplay = new Promise<void>((resolve) => (replayed = resolve));
    const watch = await repository.kv.watch({ key: names.key, initializedFn: () => replayed() });
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch) this.#offer(entry);
    })()
      .catch((err: unknown) => this.#options.logger.warn("the config watch failed", { error: errorText(err) }))
      .finally(() => {
        // Ended by itself (not replaced by a newer watch, not closing): watch again.
        if (this.#watch === watch && !this.#closed) void this.#sync();
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([initialReplay, new Promise<void>((resolve) => (timer = setTimeout(resolve, INITIAL_REPLAY_LIMIT_MS)))]);
    clearTimeout(timer);
  }

  #offer(entry: KvEntry): void {
    const { applier, logger, names } = this.#options;
    if (entry.operation !== "PUT") {
      logger.warn("the config key was deleted from the bucket: keeping the running revision", { bucket: names.bucket, revision: entry.revision });
      return;
    }
    const record = decodeRecord(entry.value);
    applier.offer(record.document, { source: ConfigSource.NATS, revision: entry.revision, label: `nats:${names.bucket}@${entry.revision}` });
  }

  /** Seeds an empty bucket from the local document; losing the race to another instance is fine. */
  async #seed(repository: ConfigRepository): Promise<void> {
    const { logger, names, state, localDocument } = this.#options;
    const local = await localDocument();
    if (!local) {
      logger.warn("the config bucket is empty and this process has no local config (LLMMESH_CONFIG): not ready until `llmmesh config push`", {
        bucket: names.bucket,
      });
      return;
    }
    let snapshot;
    try {
      snapshot = parseConfig(local.text, local.path);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [errorText(err)];
      state.recordError(`cannot seed the empty config bucket from ${local.path}: ${problems.join("; ")}`);
      logger.error("cannot seed the empty config bucket: the local config is invalid", { path: local.path, problems });
      return;
    }
    const literal = literalSecretProblems(snapshot.config);
    if (literal.length > 0) {
      logger.warn("seeding the config bucket with literal secrets: every service and operator can read them; use ${ENV_VAR} references", {
        problems: literal,
      });
    }
    try {
      const revision = await repository.store(
        newRecord(local.text, { author: `seed:${state.identity.service}@${state.identity.hostname}`, note: `seeded from ${local.path}` }),
        undefined,
      );
      logger.info("seeded the empty config bucket from the local config", { bucket: names.bucket, revision, path: local.path });
    } catch (err) {
      if (!(err instanceof ConfigConflictError)) throw err;
      // Another instance seeded it first: its revision is what the watch delivers.
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
