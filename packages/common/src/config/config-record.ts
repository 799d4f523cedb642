import { createHash } from "node:crypto";
import { create, fromJson, toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConfigRecordSchema, type ConfigRecord } from "@llmmesh/proto";

/**
 * The short content hash of a config document: the same value `parseConfig`
 * gives as a snapshot's `revision`, so a stored record, a running service and
 * /healthz all name one document the same way.
 */
export function documentDigest(document: string): string {
  return createHash("sha256").update(document).digest("hex").slice(0, 12);
}

/** One revision read from the bucket. */
export interface StoredRevision {
  /** The bucket's sequence number for this value: what `--revision N` names. */
  readonly revision: number;
  readonly record: ConfigRecord;
  /** When NATS stored it. */
  readonly storedAt: Date;
}

/** Who stored a revision and why. */
export interface RecordMeta {
  author: string;
  note?: string;
  rollbackOf?: number;
}

/** A record for `document`, stamped now. */
export function newRecord(document: string, meta: RecordMeta): ConfigRecord {
  return create(ConfigRecordSchema, {
    document,
    digest: documentDigest(document),
    author: meta.author,
    note: meta.note ?? "",
    rollbackOf: BigInt(meta.rollbackOf ?? 0),
    pushedAt: timestampFromDate(new Date()),
  });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bucket value for a record: proto JSON, readable with `nats kv get`. */
export function encodeRecord(record: ConfigRecord): Uint8Array {
  return encoder.encode(toJsonString(ConfigRecordSchema, record, { prettySpaces: 0 }));
}

/**
 * Reads a bucket value. A value that is not a record (someone ran
 * `nats kv put` with a bare YAML document) is taken as the document itself,
 * with an unknown author, rather than refused.
 */
export function decodeRecord(value: Uint8Array): ConfigRecord {
  const text = decoder.decode(value);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (isRecordJson(json)) {
    const record = fromJson(ConfigRecordSchema, json, { ignoreUnknownFields: true });
    // The digest is derived data: recomputed, so a hand-edited value cannot lie about its document.
    record.digest = documentDigest(record.document);
    return record;
  }
  return create(ConfigRecordSchema, { document: text, digest: documentDigest(text), author: "(unknown: raw value)" });
}

function isRecordJson(json: unknown): json is JsonValue {
  return typeof json === "object" && json !== null && !Array.isArray(json) && typeof (json as { document?: unknown }).document === "string";
}
