import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConfigSource, InstanceStatusSchema, type InstanceStatus } from "@llmmesh/proto";

/** Who this process is, fixed at start. */
export interface InstanceIdentity {
  /** The services it hosts, e.g. "router" or "gateway+router+policy". */
  readonly service: string;
  /** Unique per process start: `<hostname>-<pid>-<random>`. */
  readonly instanceId: string;
  readonly version: string;
  readonly hostname: string;
  readonly pid: number;
  readonly startedAt: Date;
}

/** The identity of this process, hosting `service`. */
export function instanceIdentity(service: string): InstanceIdentity {
  const host = hostname();
  return {
    service,
    instanceId: `${host}-${process.pid}-${randomBytes(3).toString("hex")}`,
    version: packageVersion(),
    hostname: host,
    pid: process.pid,
    startedAt: new Date(),
  };
}

let cachedVersion: string | undefined;

/** The LLM Mesh version (every workspace package shares it), read once from this package's package.json. */
function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      // dist/config/status.js → the package root.
      const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
      cachedVersion = typeof manifest.version === "string" ? manifest.version : "unknown";
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}

/** The revision an instance serves. */
export interface RunningRevision {
  /** Bucket revision; 0 for a local file. */
  readonly revision: number;
  readonly digest: string;
  readonly source: ConfigSource;
  readonly since: Date;
}

/**
 * What this process reports about itself (`llmmesh status`, events, logs):
 * the revision it runs and since when, readiness, and its last config
 * error. Written by the config applier and start-up; read when a heartbeat
 * asks. Never on the request path.
 */
export class InstanceState {
  #running: RunningRevision | undefined;
  #lastError: { message: string; at: Date } | undefined;
  #url = "";
  #ready = false;

  constructor(readonly identity: InstanceIdentity) {}

  /** The revision served now; undefined before the first one. */
  get running(): RunningRevision | undefined {
    return this.#running;
  }

  /** Records a revision as served from now on. */
  recordRunning(running: Omit<RunningRevision, "since">): void {
    this.#running = { ...running, since: new Date() };
  }

  /** Records a config failure (a refused revision, a store that cannot be read). */
  recordError(message: string): void {
    this.#lastError = { message, at: new Date() };
  }

  /** The process listens at `url` and serves requests. */
  markReady(url: string): void {
    this.#url = url;
    this.#ready = true;
  }

  /** The heartbeat answer. */
  toStatus(): InstanceStatus {
    const { identity } = this;
    const running = this.#running;
    return create(InstanceStatusSchema, {
      service: identity.service,
      instanceId: identity.instanceId,
      version: identity.version,
      hostname: identity.hostname,
      pid: identity.pid,
      url: this.#url,
      ready: this.#ready,
      startedAt: timestampFromDate(identity.startedAt),
      revision: BigInt(running?.revision ?? 0),
      digest: running?.digest ?? "",
      source: running?.source ?? ConfigSource.UNSPECIFIED,
      revisionSince: running ? timestampFromDate(running.since) : undefined,
      lastError: this.#lastError?.message ?? "",
      lastErrorAt: this.#lastError ? timestampFromDate(this.#lastError.at) : undefined,
    });
  }
}
