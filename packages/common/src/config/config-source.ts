import { access, readFile } from "node:fs/promises";
import { ConfigSource } from "@llmmesh/proto";
import type { Logger } from "../logger.js";
import type { ConfigApplier } from "./config-applier.js";
import type { ConfigControl } from "./config-control.js";
import { documentDigest } from "./config-record.js";
import { watchFile } from "./file-watcher.js";
import { ConfigError } from "./load.js";
import { NatsConfigSource, type LocalDocument } from "./nats-config-source.js";
import type { InstanceState } from "./status.js";
import { natsNamesFromEnv } from "./subjects.js";

/** How long start-up waits for NATS before falling back to the local file. */
const DEFAULT_NATS_CONNECT_WAIT_MS = 3_000;

/** Where a process takes its config from, once started. */
export interface ConfigSourceHandle {
  /** nats: follows the bucket; file: applies edits of the local file; static: the file as read at start. */
  readonly mode: "nats" | "file" | "static";
  /** One line for the start-up summary. */
  readonly description: string;
  /** The operators' config operations, when following NATS. */
  readonly control: ConfigControl | undefined;
  close(): Promise<void>;
}

/** What `startConfigSource` needs. */
export interface ConfigSourceOptions {
  env: NodeJS.ProcessEnv;
  /** LLMMESH_CONFIG, or the default path. */
  configPath: string;
  /** Whether LLMMESH_CONFIG named the path (a missing default file is not an error; a missing named one is). */
  configPathExplicit: boolean;
  applier: ConfigApplier;
  state: InstanceState;
  logger: Logger;
}

/**
 * Chooses and starts the config source of a process:
 * - NATS_URL set: follow the key-value bucket (seeding it from the local
 *   file when empty). NATS unreachable at start: serve the local file if
 *   there is one and say so, else wait, not ready; either way keep trying.
 * - otherwise: the local file, re-applied on every edit
 *   (LLMMESH_CONFIG_WATCH=off for a file read once).
 * Returns once the applier has a first revision, or, in NATS mode without a
 * usable config, once it is clear that it must wait (the caller awaits
 * `applier.ready()`). An invalid local file the process must serve is a
 * start-up error (ConfigError).
 */
export async function startConfigSource(options: ConfigSourceOptions): Promise<ConfigSourceHandle> {
  const { env, configPath, applier, logger } = options;
  const fileOrigin = { source: ConfigSource.FILE, revision: 0, label: configPath };
  const localDocument = async (): Promise<LocalDocument | undefined> => {
    if (!options.configPathExplicit && !(await exists(configPath))) return undefined;
    try {
      return { text: await readFile(configPath, "utf8"), path: configPath };
    } catch (err) {
      logger.error("cannot read the local config", { path: configPath, error: (err as Error).message });
      return undefined;
    }
  };
  const applyLocal = (local: LocalDocument) => {
    const outcome = applier.offer(local.text, fileOrigin);
    if (outcome?.kind === "rejected") throw new ConfigError(local.path, [...outcome.problems]);
  };

  const natsUrl = env.NATS_URL?.trim();
  if (natsUrl) {
    const names = natsNamesFromEnv(env);
    const source = NatsConfigSource.start({
      url: natsUrl,
      names,
      applier,
      state: options.state,
      logger,
      localDocument,
      maxReconnectDelayMs: Number(env.LLMMESH_NATS_RECONNECT_MAX_MS) || undefined,
    });
    const waitMs = Number(env.LLMMESH_NATS_CONNECT_WAIT_MS) || DEFAULT_NATS_CONNECT_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const synced = await Promise.race([
      source.synced.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
    ]);
    clearTimeout(timer);
    if (!synced && !applier.store) {
      const local = await localDocument();
      // The bucket may have answered while the file was read: then it wins.
      if (local && !applier.store) {
        applyLocal(local);
        // "Unreachable" covers a NATS whose JetStream does not answer (yet) too: the source keeps retrying.
        logger.warn("NATS is unreachable: serving the local config until it is, then following the bucket", {
          nats: natsUrl,
          path: local.path,
          digest: documentDigest(local.text),
        });
      } else if (!local) {
        logger.warn("NATS is unreachable and there is no local config: not ready; waiting for NATS", { nats: natsUrl });
      }
    } else if (!applier.store) {
      logger.warn("no config revision this process can serve yet: not ready; waiting for one", { bucket: names.bucket });
    }
    return {
      mode: "nats",
      description: `following NATS bucket ${names.bucket} at ${natsUrl}`,
      control: source.control,
      close: () => source.close(),
    };
  }

  let text: string;
  try {
    text = await readFile(configPath, "utf8");
  } catch (err) {
    throw new ConfigError(configPath, [`cannot read file: ${(err as Error).message}`]);
  }
  applyLocal({ text, path: configPath });
  const off = ["off", "0", "false", "no"].includes((env.LLMMESH_CONFIG_WATCH ?? "").toLowerCase());
  if (off) return { mode: "static", description: `${configPath}, read once (LLMMESH_CONFIG_WATCH=off)`, control: undefined, close: async () => {} };
  const watch = watchFile(
    configPath,
    text,
    (next) => applier.offer(next, fileOrigin),
    (err) => logger.warn("cannot read the edited config file; still serving the last good revision", { path: configPath, error: err.message }),
  );
  return {
    mode: "file",
    description: `watching ${configPath} for edits`,
    control: undefined,
    close: async () => watch.close(),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
