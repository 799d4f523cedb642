import type { KV, KvEntry, NatsConnection } from "nats";
import { decodeRecord, encodeRecord, type StoredRevision } from "./config-record.js";
import type { ConfigRecord } from "@llmmesh/proto";
import { CONFIG_HISTORY, type NatsNames } from "./subjects.js";

/** Someone else stored a revision between our read and our write. */
export class ConfigConflictError extends Error {
  constructor(expected: number | undefined) {
    super(
      expected === undefined
        ? "the config bucket is no longer empty: another revision was stored meanwhile; read it and push again"
        : `the config changed after revision ${expected}: another revision was stored meanwhile; review it and push again`,
    );
    this.name = "ConfigConflictError";
  }
}

/**
 * The config document's home: one key of a JetStream key-value bucket whose
 * history keeps the last CONFIG_HISTORY revisions. The bucket's sequence
 * number is the revision number. Writes are compare-and-set, so two
 * operators pushing at once cannot silently overwrite each other.
 */
export class ConfigRepository {
  private constructor(
    /** The underlying bucket (watchers use it directly). */
    readonly kv: KV,
    readonly names: NatsNames,
  ) {}

  /** Opens the bucket, creating it (with history) if it does not exist. */
  static async open(nc: NatsConnection, names: NatsNames): Promise<ConfigRepository> {
    const kv = await nc.jetstream().views.kv(names.bucket, { history: CONFIG_HISTORY });
    return new ConfigRepository(kv, names);
  }

  /** The current revision; undefined when the bucket is empty (or the key deleted). */
  async current(): Promise<StoredRevision | undefined> {
    const entry = await this.kv.get(this.names.key);
    return entry ? toStored(entry) : undefined;
  }

  /** Revision `revision` if the bucket still holds it. */
  async revision(revision: number): Promise<StoredRevision | undefined> {
    let entry: KvEntry | null;
    try {
      entry = await this.kv.get(this.names.key, { revision });
    } catch {
      // An unknown sequence answers "no message found"; a sequence of another key is a mismatch.
      return undefined;
    }
    return entry && entry.key === this.names.key ? toStored(entry) : undefined;
  }

  /** Every revision the bucket keeps, oldest first. */
  async history(): Promise<StoredRevision[]> {
    const revisions: StoredRevision[] = [];
    const iterator = await this.kv.history({ key: this.names.key });
    for await (const entry of iterator) {
      const stored = toStored(entry);
      if (stored) revisions.push(stored);
    }
    return revisions.sort((a, b) => a.revision - b.revision);
  }

  /**
   * Stores `record` as the next revision, provided the current one is still
   * `expected` (undefined: the bucket must be empty). Returns the new
   * revision number; ConfigConflictError when someone stored one meanwhile.
   */
  async store(record: ConfigRecord, expected: number | undefined): Promise<number> {
    const data = encodeRecord(record);
    try {
      return expected === undefined ? await this.kv.create(this.names.key, data) : await this.kv.update(this.names.key, data, expected);
    } catch (err) {
      if (isWrongSequence(err)) throw new ConfigConflictError(expected);
      throw err;
    }
  }
}

/** A bucket entry as a revision; undefined for deletions and purges. */
export function toStored(entry: KvEntry): StoredRevision | undefined {
  if (entry.operation !== "PUT") return undefined;
  return { revision: entry.revision, record: decodeRecord(entry.value), storedAt: entry.created };
}

/** JetStream's "wrong last sequence" (API error 10071): the compare-and-set lost. */
function isWrongSequence(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: unknown } } | undefined)?.api_error?.err_code;
  return code === 10071 || /wrong last sequence/i.test(err instanceof Error ? err.message : String(err));
}
