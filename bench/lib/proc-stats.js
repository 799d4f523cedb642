// CPU time and resident memory of other processes, read from Linux /proc.
// The figures are the kernel's: CPU is user+system time of every thread of the
// process (GC and libuv threads included), memory is VmRSS.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 nearly everywhere). */
export const CLOCK_TICKS = clockTicks();

function clockTicks() {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5000 }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** True when this machine has /proc/<pid>/stat (Linux). */
export function procAvailable() {
  return cpuMicros(process.pid) !== undefined;
}

/**
 * CPU time (user + system) the process has used so far, in microseconds;
 * undefined when it is gone or /proc is missing.
 * @param {number} pid
 * @returns {number | undefined}
 */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state(3) ... utime(14) stime(15), counted from 1.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resident memory of the process in bytes; undefined when it is gone.
 * @param {number} pid
 * @returns {number | undefined}
 */
export function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @typedef {{ role: string, pid: number }} Proc a process to watch, named by its role in a target
 * @typedef {Record<string, number | undefined>} CpuSnapshot CPU µs per role
 */

/**
 * @param {Proc[]} procs
 * @returns {CpuSnapshot}
 */
export function snapshotCpu(procs) {
  return Object.fromEntries(procs.map((p) => [p.role, cpuMicros(p.pid)]));
}

/**
 * CPU µs each process used between two snapshots.
 * @param {CpuSnapshot} before
 * @param {CpuSnapshot} after
 * @returns {Record<string, number | null>}
 */
export function cpuDelta(before, after) {
  /** @type {Record<string, number | null>} */
  const delta = {};
  for (const role of Object.keys(after)) {
    const a = after[role];
    const b = before[role];
    delta[role] = a === undefined || b === undefined ? null : a - b;
  }
  return delta;
}

/**
 * Resident memory per role, bytes.
 * @param {Proc[]} procs
 * @returns {Record<string, number | null>}
 */
export function snapshotRss(procs) {
  return Object.fromEntries(procs.map((p) => [p.role, rssBytes(p.pid) ?? null]));
}
