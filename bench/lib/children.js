import { appendFileSync } from "node:fs";
// Child processes of the harness: started here, tracked here, and all killed
// when the harness exits for any reason (normal end, error, Ctrl-C, SIGTERM).
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";

/** How much of a child's output is kept for error messages. */
const OUTPUT_KEPT = 64 * 1024;

/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();
/** Set once the harness stops everything: exits after that are expected. */
let shuttingDown = false;

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {number} pid
 * @property {import("node:child_process").ChildProcess} process
 * @property {() => string} output the last 64 KB of stdout and stderr
 * @property {(pattern: RegExp, timeoutMs: number) => Promise<RegExpExecArray>} waitFor resolves with the first match in stdout+stderr
 * @property {(graceMs?: number) => Promise<void>} stop SIGTERM, then SIGKILL after the grace period
 * @property {() => string | undefined} crashed why it exited when nobody asked it to; undefined while it runs or after stop()
 */

/**
 * Starts a process and keeps its output (always drained, so a chatty child
 * never blocks on a full pipe). Its stdin is a pipe the harness holds open:
 * our own servers exit when it closes, i.e. when the harness dies.
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, cpus?: string }} [options] cpus: a taskset core list to pin to
 * @returns {Child}
 */
export function startChild(name, command, args, options = {}) {
  if (shuttingDown) throw new Error(`not starting ${name}: the harness is stopping`);
  const [file, argv] = options.cpus ? ["taskset", ["-c", options.cpus, command, ...args]] : [command, args];
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  child.once("error", () => running.delete(child));
  // An EPIPE on stdin (child already gone) must not crash the harness.
  child.stdin?.on("error", () => undefined);
  let output = "";
  let stopping = false;
  /** @param {Buffer} data */
  const keep = (data) => {
    // BENCH_LOG_DIR keeps every child's whole output for diagnosis (the report quotes only the tail).
    if (process.env.BENCH_LOG_DIR) appendFileSync(`${process.env.BENCH_LOG_DIR}/${name}.log`, data);
    output += data.toString();
    if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    name,
    pid: child.pid ?? -1,
    process: child,
    output: () => output.slice(-OUTPUT_KEPT),
    waitFor: (pattern, timeoutMs) => waitForOutput(name, child, () => output, pattern, timeoutMs),
    stop: (graceMs = 3000) => {
      stopping = true;
      return stopChild(child, graceMs);
    },
    crashed: () => {
      if (stopping || shuttingDown || (child.exitCode === null && child.signalCode === null)) return undefined;
      return `${name} exited (${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode}): ${output.trim().split("\n").slice(-6).join(" ⏎ ").slice(-800)}`;
    },
  };
}

/**
 * @param {string} name
 * @param {import("node:child_process").ChildProcess} child
 * @param {() => string} output
 * @param {RegExp} pattern
 * @param {number} timeoutMs
 * @returns {Promise<RegExpExecArray>}
 */
function waitForOutput(name, child, output, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output());
      if (match) {
        done();
        resolve(match);
      }
    };
    /** @param {number | null} code */
    const exited = (code) => {
      done();
      reject(new Error(`${name} exited (code ${code}) before it was ready:\n${output().slice(-4000)}`));
    };
    /** @param {Error} err */
    const failed = (err) => {
      done();
      reject(new Error(`${name} could not start: ${err.message}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${name} was not ready within ${timeoutMs} ms:\n${output().slice(-4000)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off("data", check);
      child.stderr?.off("data", check);
      child.off("exit", exited);
      child.off("error", failed);
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.once("exit", exited);
    child.once("error", failed);
    check();
  });
}

/**
 * @param {import("node:child_process").ChildProcess} child
 * @param {number} graceMs
 * @returns {Promise<void>}
 */
function stopChild(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
    child.kill("SIGTERM");
  });
}

/** Stops every child still running (SIGTERM, SIGKILL after `graceMs`). */
export async function stopAllChildren(graceMs = 3000) {
  shuttingDown = true;
  await Promise.all([...running].map((child) => stopChild(child, graceMs)));
}

/** Kills every child at once; safe inside a process "exit" handler. */
export function killAllChildren() {
  shuttingDown = true;
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

let cleanupInstalled = false;

/**
 * Makes sure no child outlives the harness: killed on exit, on Ctrl-C and
 * SIGTERM (after a short graceful stop), and on an uncaught error.
 * @param {(message: string) => void} log
 */
export function installCleanup(log) {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once("exit", killAllChildren);
  for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
    process.once(signal, () => {
      log(`\n${signal}: stopping every child process`);
      const hardExit = setTimeout(() => process.exit(130), 4000);
      void stopAllChildren(1500).finally(() => {
        clearTimeout(hardExit);
        process.exit(130);
      });
    });
  }
}

/** True when `taskset` can pin processes here (Linux with util-linux). */
export function tasksetAvailable() {
  try {
    return spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore", timeout: 5000 }).status === 0;
  } catch {
    return false;
  }
}
