// Runs one load worker process (load or stream client) and follows its
// JSON-lines progress, with a hard deadline: a run never hangs the harness.
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { URL, fileURLToPath } from "node:url";
import { startChild } from "./children.js";

/**
 * @typedef {Record<string, unknown> & { event: string }} WorkerEvent
 */

/**
 * Starts `bench/workers/<script>` with the job, calls `onEvent` for every line
 * it prints, and resolves with the last event (normally "done") when it exits.
 * @param {string} script file name under bench/workers
 * @param {object} job
 * @param {{ cpus?: string, deadlineMs: number, onEvent?: (event: WorkerEvent) => void }} options
 * @returns {Promise<WorkerEvent[]>} every event, in order
 */
export function runWorker(script, job, options) {
  const entry = fileURLToPath(new URL(`../workers/${script}`, import.meta.url));
  const child = startChild(script, process.execPath, [entry, JSON.stringify(job)], { cpus: options.cpus });
  /** @type {WorkerEvent[]} */
  const events = [];
  let pending = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop(500);
      reject(new Error(`${script} did not finish within ${Math.round(options.deadlineMs / 1000)} s; output:\n${child.output().slice(-2000)}`));
    }, options.deadlineMs);
    child.process.stdout?.on("data", (/** @type {Buffer} */ data) => {
      pending += data.toString();
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (!line.startsWith("{")) continue;
        /** @type {WorkerEvent} */
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        events.push(event);
        options.onEvent?.(event);
      }
    });
    child.process.once("exit", (code) => {
      clearTimeout(timer);
      const last = events.at(-1);
      if (code === 0 && last?.event === "done") resolve(events);
      else reject(new Error(`${script} failed (exit ${code}): ${last?.event === "error" ? String(last.message) : child.output().slice(-2000)}`));
    });
  });
}
