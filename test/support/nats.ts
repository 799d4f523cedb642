/**
 * NATS for cross-service config tests: the shared server on this machine
 * (each test run under its own bucket and subject prefix, removed
 * afterwards), a private `nats-server` a test may kill and restart, and
 * service processes whose output a test can wait on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { connect } from "nats";
import { natsNames } from "@llmmesh/common";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The machine's NATS server (JetStream enabled), shared by every test run. */
export const SHARED_NATS_URL = process.env.LLMMESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A prefix no other run uses: its bucket and subjects are this test's alone. */
export function uniquePrefix(tag: string): string {
  return `test-${tag}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Deletes the config bucket of `prefix` (its JetStream stream), if it exists. */
export async function removeBucket(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3_000 });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KV_${natsNames(prefix).bucket}`).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; good enough for tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A private nats-server (JetStream, file storage in a temporary directory) that survives restarts. */
export interface PrivateNats {
  readonly url: string;
  readonly port: number;
  /** Starts it (again), keeping the store: buckets and their history survive. */
  start(): Promise<void>;
  /** Kills it without warning (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Stops it and deletes its store. */
  dispose(): Promise<void>;
}

/** A nats-server of our own on a free port; never the shared one. Not started until `start()`. */
export async function privateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "llmmesh-nats-"));
  let child: ChildProcess | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      if (child) throw new Error("nats-server already running");
      child = spawn(process.env.LLMMESH_TEST_NATS_SERVER ?? "/usr/sbin/nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
        stdio: "ignore",
      });
      await waitForPort(port, 10_000);
    },
    kill,
    async dispose() {
      await kill();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A service process whose output a test can wait on, whether or not it ever listens. */
export interface WatchedProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in the output (stdout and stderr), waiting up to `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** Starts `node <entry>` from the repository root. */
export function spawnService(entry: string, env: NodeJS.ProcessEnv): WatchedProcess {
  const child = spawn(process.execPath, [join(REPO, entry)], {
    cwd: REPO,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return {
    child,
    output: () => output,
    waitFor: (pattern, timeoutMs = 20_000) => poll(() => pattern.exec(output) ?? undefined, timeoutMs, () => `no ${pattern} in the output of ${entry}:\n${output}`),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Calls `check` every 20 ms until it returns a value; rejects with `describe()` after `timeoutMs`. */
export async function poll<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(20);
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
