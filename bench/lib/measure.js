// One measurement each: a non-streamed load run, a streamed latency run, a
// hold of many slow streams, a soak. Each runs its client in a worker
// process and reads the servers' CPU and memory from /proc around it.
import { performance } from "node:perf_hooks";
import { clearInterval, setInterval } from "node:timers";
import { MODEL, SLOW_MODEL, STREAM_MODEL, chatRequestBody } from "./payload.js";
import { cpuDelta, snapshotCpu, snapshotRss } from "./proc-stats.js";
import { median } from "./stats.js";
import { runWorker } from "./worker-run.js";

const CHAT_PATH = "/v1/chat/completions";

/**
 * @typedef {import("./targets.js").Target} Target
 * @typedef {import("./proc-stats.js").Proc} Proc
 * @typedef {import("./stats.js").Distribution} Distribution
 * @typedef {{ mock: Proc, loaderCpus: string | undefined }} Context
 */

/**
 * @typedef {object} CpuFigures
 * @property {Record<string, number | null>} usPerRequest CPU µs per completed request, per process role
 * @property {number | null} usPerRequestTotal the target's own processes together (mock excluded)
 * @property {number | null} mockUsPerRequest the mock's share, the same for every target
 * @property {Record<string, number | null>} cores average cores busy during the window, per role
 */

/**
 * The CPU snapshots and clock of a worker's measured window, taken when the
 * worker reports its "start" and "end" events.
 * @param {Proc[]} procs
 */
function measuredWindow(procs) {
  const window = {
    before: snapshotCpu(procs),
    after: snapshotCpu(procs),
    startedAt: performance.now(),
    endedAt: performance.now(),
    /** @param {Record<string, unknown>} event */
    onEvent(event) {
      if (event.event === "start") {
        window.before = snapshotCpu(procs);
        window.startedAt = performance.now();
      } else if (event.event === "end") {
        window.after = snapshotCpu(procs);
        window.endedAt = performance.now();
      }
    },
  };
  return window;
}

/**
 * CPU figures from two snapshots around a window in which `requests` completed.
 * @param {Target} target
 * @param {Proc} mock
 * @param {import("./proc-stats.js").CpuSnapshot} before
 * @param {import("./proc-stats.js").CpuSnapshot} after
 * @param {number} requests
 * @param {number} wallMs
 * @returns {CpuFigures}
 */
function cpuFigures(target, mock, before, after, requests, wallMs) {
  const delta = cpuDelta(before, after);
  /** @type {Record<string, number | null>} */
  const usPerRequest = {};
  /** @type {Record<string, number | null>} */
  const cores = {};
  let total = 0;
  let complete = true;
  for (const [role, us] of Object.entries(delta)) {
    usPerRequest[role] = us === null || requests === 0 ? null : us / requests;
    cores[role] = us === null || wallMs <= 0 ? null : us / 1000 / wallMs;
    if (role === mock.role) continue;
    if (usPerRequest[role] === null) complete = false;
    else total += /** @type {number} */ (usPerRequest[role]);
  }
  const mockUs = usPerRequest[mock.role] ?? null;
  delete usPerRequest[mock.role];
  return { usPerRequest, usPerRequestTotal: complete && target.procs.length > 0 ? total : null, mockUsPerRequest: mockUs, cores };
}

/**
 * @param {Record<string, number | null>} rss
 * @param {Proc} mock
 */
function targetRss(rss, mock) {
  const own = Object.fromEntries(Object.entries(rss).filter(([role]) => role !== mock.role));
  const values = Object.values(own);
  return { rssBytes: own, rssTotalBytes: values.length > 0 && values.every((v) => v !== null) ? values.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : null };
}

/**
 * @typedef {object} LoadResult
 * @property {string} target
 * @property {number} connections
 * @property {number} seconds measured window
 * @property {number} rps 2xx responses per second in the window
 * @property {Distribution} latencyMs of 2xx responses
 * @property {number} ok
 * @property {number} non2xx in the window
 * @property {number} errors connection errors and timeouts in the window
 * @property {Record<string, number>} statusCounts
 * @property {Record<string, number>} runTotals autocannon's totals for the whole run, warm-up included
 * @property {CpuFigures} cpu
 * @property {Record<string, number | null>} rssBytes after the run, per role
 * @property {number | null} rssTotalBytes
 * @property {number} clientCores cores the load generator kept busy (≈ 1: it may have been the bottleneck)
 * @property {string} [serverLog] the target's last log lines, when the run had errors
 * @property {{ rps: number, p50: number | null, p99: number | null, cpuUsPerRequest: number | null }[]} [rounds] each round, when combined
 */

/**
 * Non-streamed requests at a fixed concurrency: warm-up, then a measured window.
 * @param {Context} context
 * @param {Target} target
 * @param {number} connections
 * @param {{ warmupMs: number, measureMs: number }} timing
 * @returns {Promise<LoadResult>}
 */
export async function measureLoad(context, target, connections, timing) {
  const procs = [...target.procs, context.mock];
  const window = measuredWindow(procs);
  const job = {
    url: `${target.url}${CHAT_PATH}`,
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body: chatRequestBody(MODEL),
    connections,
    warmupMs: timing.warmupMs,
    measureMs: timing.measureMs,
  };
  const events = await runWorker("load-worker.js", job, {
    cpus: context.loaderCpus,
    deadlineMs: timing.warmupMs + timing.measureMs + 30_000,
    onEvent: window.onEvent,
  });
  const end = /** @type {Record<string, any>} */ (events.find((e) => e.event === "end") ?? {});
  const done = /** @type {Record<string, any>} */ (events.find((e) => e.event === "done") ?? {});
  return {
    target: target.id,
    connections,
    seconds: end.seconds,
    rps: end.rps,
    latencyMs: end.latencyMs,
    ok: end.ok,
    non2xx: end.non2xx,
    errors: end.errors,
    statusCounts: end.statusCounts,
    runTotals: done.totals ?? {},
    cpu: cpuFigures(target, context.mock, window.before, window.after, end.responses + end.errors, window.endedAt - window.startedAt),
    ...targetRss(snapshotRss(procs), context.mock),
    clientCores: end.clientCores,
  };
}

/**
 * @typedef {object} StreamResult
 * @property {string} target
 * @property {number} concurrency
 * @property {number} seconds
 * @property {number} ok complete streams in the window
 * @property {number} failed
 * @property {Record<string, number>} errors distinct error messages
 * @property {Distribution} ttftMs time to first token
 * @property {Distribution} totalMs whole stream
 * @property {CpuFigures} cpu per stream
 * @property {number} clientCores
 * @property {string} [serverLog]
 * @property {{ ttftP50: number | null, totalP50: number | null, ok: number }[]} [rounds] each round, when combined
 */

/**
 * Streamed requests at a small concurrency: time to first token and total time.
 * @param {Context} context
 * @param {Target} target
 * @param {{ concurrency: number, warmupMs: number, measureMs: number, expectTokens: number }} plan
 * @returns {Promise<StreamResult>}
 */
export async function measureStreams(context, target, plan) {
  const procs = [...target.procs, context.mock];
  const window = measuredWindow(procs);
  const job = {
    mode: "latency",
    origin: target.url,
    path: CHAT_PATH,
    headers: target.headers,
    body: chatRequestBody(STREAM_MODEL, { stream: true }),
    expectTokens: plan.expectTokens,
    concurrency: plan.concurrency,
    warmupMs: plan.warmupMs,
    measureMs: plan.measureMs,
    streamTimeoutMs: 10_000,
  };
  const events = await runWorker("stream-worker.js", job, {
    cpus: context.loaderCpus,
    deadlineMs: plan.warmupMs + plan.measureMs + 40_000,
    onEvent: window.onEvent,
  });
  const end = /** @type {Record<string, any>} */ (events.find((e) => e.event === "end") ?? {});
  return {
    target: target.id,
    concurrency: plan.concurrency,
    seconds: end.seconds,
    ok: end.ok,
    failed: end.failed,
    errors: end.errors,
    ttftMs: end.ttftMs,
    totalMs: end.totalMs,
    cpu: cpuFigures(target, context.mock, window.before, window.after, end.ok + end.failed, window.endedAt - window.startedAt),
    clientCores: end.clientCores,
  };
}

/**
 * @typedef {object} HoldResult
 * @property {string} target
 * @property {"h1" | "h2c"} [protocol] between the client and the gateway (h1 when absent: older results)
 * @property {number} count streams asked for
 * @property {number} completed
 * @property {number} failed
 * @property {number} maxOpen most streams open at once (client side)
 * @property {number} seconds
 * @property {Record<string, number>} errors
 * @property {Distribution} totalMs
 * @property {number | null} peakRssTotalBytes the target's processes together, sampled every 250 ms
 * @property {Record<string, number | null>} peakRssBytes per role, at the moment of the peak total
 * @property {number | null} idleRssTotalBytes before the streams
 * @property {number} clientCores
 * @property {string} [serverLog]
 */

/**
 * Many slow streams open at once; every one must complete. Peak RSS of the target's processes.
 * @param {Context} context
 * @param {Target} target
 * @param {{ count: number, expectTokens: number, streamMs: number, rampPerSecond: number, protocol: "h1" | "h2c" }} plan
 * @param {(message: string) => void} log
 * @returns {Promise<HoldResult>}
 */
export async function holdStreams(context, target, plan, log) {
  const rssTotal = () => {
    const rss = snapshotRss(target.procs);
    const values = Object.values(rss);
    return { rss, total: values.every((v) => v !== null) ? values.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : null };
  };
  const idle = rssTotal();
  let peak = idle;
  const sampler = setInterval(() => {
    const now = rssTotal();
    if (now.total !== null && (peak.total === null || now.total > peak.total)) peak = now;
  }, 250);
  const job = {
    mode: "hold",
    origin: target.url,
    path: CHAT_PATH,
    headers: target.headers,
    body: chatRequestBody(SLOW_MODEL, { stream: true }),
    expectTokens: plan.expectTokens,
    count: plan.count,
    rampPerSecond: plan.rampPerSecond,
    streamTimeoutMs: 30_000,
    protocol: plan.protocol,
  };
  let lastLog = 0;
  try {
    const events = await runWorker("stream-worker.js", job, {
      cpus: context.loaderCpus,
      deadlineMs: (plan.count / plan.rampPerSecond) * 1000 + plan.streamMs + 90_000,
      onEvent: (event) => {
        if (event.event === "progress" && performance.now() - lastLog > 2000) {
          lastLog = performance.now();
          log(`    ${target.id} ${plan.protocol}: ${event.started} started, ${event.open} open, ${event.completed} completed, ${event.failed} failed`);
        }
      },
    });
    const end = /** @type {Record<string, any>} */ (events.find((e) => e.event === "end") ?? {});
    return {
      target: target.id,
      protocol: plan.protocol,
      count: plan.count,
      completed: end.completed,
      failed: end.failed,
      maxOpen: end.maxOpen,
      seconds: end.seconds,
      errors: end.errors,
      totalMs: end.totalMs,
      peakRssTotalBytes: peak.total,
      peakRssBytes: peak.rss,
      idleRssTotalBytes: idle.total,
      clientCores: end.clientCores,
    };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * @typedef {object} SoakResult
 * @property {string} target
 * @property {number} requests asked for
 * @property {number} connections
 * @property {{ requests: number, rssTotalBytes: number | null, rps: number, errors: number, non2xx: number }[]} samples after each slice
 * @property {number} rssSampleCount RSS samples taken (every SOAK_RSS_SAMPLE_MS while the load ran)
 * @property {number | null} warmRssBytes median RSS over the window right after warm-up
 * @property {number | null} finalRssBytes median RSS over the last window
 * @property {number | null} maxRssBytes the highest sample after warm-up
 * @property {number | null} growth (final − warm) / warm
 * @property {number} errors
 * @property {number} non2xx
 * @property {string} [serverLog]
 */

/** How often the soak samples RSS while the load runs. */
const SOAK_RSS_SAMPLE_MS = 250;
/** Slices of the soak; warm-up is the first 10 % of them, and each compared window is 10 % too. */
const SOAK_SLICES = 20;

/**
 * N requests in slices, RSS of the target's processes sampled every 250 ms
 * while they run. Growth compares the median RSS over the 10 % of requests
 * right after warm-up with the median over the last 10 %: a leak moves
 * both the level and the median, while the garbage collector's sawtooth
 * (±10 % between one sample and the next) would decide a comparison of two
 * single samples.
 * @param {Context} context
 * @param {Target} target
 * @param {{ requests: number, connections: number }} plan
 * @param {(message: string) => void} log
 * @returns {Promise<SoakResult>}
 */
export async function soak(context, target, plan, log) {
  const sliceSize = Math.max(1, Math.ceil(plan.requests / SOAK_SLICES));
  const windowSlices = Math.max(1, Math.round(SOAK_SLICES / 10));
  /** @type {SoakResult["samples"]} */
  const samples = [];
  /** RSS samples taken during each slice. @type {number[][]} */
  const rssBySlice = [];
  const totalRss = () => {
    const rss = Object.values(snapshotRss(target.procs));
    return rss.every((v) => v !== null) ? rss.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : null;
  };
  let sent = 0;
  while (sent < plan.requests) {
    const amount = Math.min(sliceSize, plan.requests - sent);
    /** @type {number[]} */
    const sliceRss = [];
    rssBySlice.push(sliceRss);
    const sampler = setInterval(() => {
      const rss = totalRss();
      if (rss !== null) sliceRss.push(rss);
    }, SOAK_RSS_SAMPLE_MS);
    let events;
    try {
      events = await runWorker(
        "load-worker.js",
        {
          url: `${target.url}${CHAT_PATH}`,
          method: "POST",
          headers: { "content-type": "application/json", ...target.headers },
          body: chatRequestBody(MODEL),
          connections: plan.connections,
          amount,
        },
        // Bounded: a slice slower than 200 requests/s is a failure, not a wait.
        { cpus: context.loaderCpus, deadlineMs: Math.max(60_000, (amount / 200) * 1000) },
      );
    } finally {
      clearInterval(sampler);
    }
    const end = /** @type {Record<string, any>} */ (events.find((e) => e.event === "end") ?? {});
    sent += amount;
    const rssTotal = totalRss();
    if (rssTotal !== null) sliceRss.push(rssTotal);
    samples.push({ requests: sent, rssTotalBytes: rssTotal, rps: end.rps ?? 0, errors: end.errors ?? 0, non2xx: end.non2xx ?? 0 });
    log(`    ${target.id}: ${sent}/${plan.requests} requests, RSS ${rssTotal === null ? "?" : (rssTotal / 2 ** 20).toFixed(1)} MiB`);
  }
  const windowMedian = (/** @type {number[][]} */ slices) => {
    const values = slices.flat();
    return values.length > 0 ? median(values) : null;
  };
  const afterWarmUp = rssBySlice.slice(windowSlices);
  const warm = windowMedian(afterWarmUp.slice(0, windowSlices));
  const finalRss = windowMedian(afterWarmUp.slice(-windowSlices));
  // A soak too short for two separate windows compares nothing: no growth figure rather than a made-up 0 %.
  const windowsApart = afterWarmUp.length >= 2 * windowSlices;
  const after = afterWarmUp.flat();
  return {
    target: target.id,
    requests: plan.requests,
    connections: plan.connections,
    samples,
    rssSampleCount: rssBySlice.flat().length,
    warmRssBytes: warm,
    finalRssBytes: finalRss,
    maxRssBytes: after.length > 0 ? Math.max(...after) : null,
    growth: windowsApart && warm !== null && finalRss !== null ? (finalRss - warm) / warm : null,
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    non2xx: samples.reduce((sum, s) => sum + s.non2xx, 0),
  };
}

/**
 * Medians of the per-round values of several CPU figures.
 * @param {CpuFigures[]} figures
 * @returns {CpuFigures}
 */
function medianCpu(figures) {
  /** @param {(f: CpuFigures) => Record<string, number | null>} pick */
  const perRole = (pick) => Object.fromEntries(Object.keys(pick(figures[0])).map((role) => [role, median(figures.map((f) => pick(f)[role]))]));
  return {
    usPerRequest: perRole((f) => f.usPerRequest),
    usPerRequestTotal: median(figures.map((f) => f.usPerRequestTotal)),
    mockUsPerRequest: median(figures.map((f) => f.mockUsPerRequest)),
    cores: perRole((f) => f.cores),
  };
}

/**
 * @param {Record<string, number>[]} counts
 * @returns {Record<string, number>}
 */
function sumCounts(counts) {
  /** @type {Record<string, number>} */
  const sum = {};
  for (const c of counts) for (const [key, value] of Object.entries(c ?? {})) if (typeof value === "number") sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

/**
 * One result from the rounds of a target at one concurrency: the median of
 * each figure (rate, percentiles, CPU), the sum of every error, the memory
 * after the last round, and every round kept for the raw results.
 * @param {LoadResult[]} rounds
 * @returns {LoadResult}
 */
export function combineLoadRounds(rounds) {
  if (rounds.length === 1) return rounds[0];
  const last = /** @type {LoadResult} */ (rounds.at(-1));
  /** @param {"mean" | "p50" | "p90" | "p99"} key */
  const latency = (key) => median(rounds.map((r) => r.latencyMs?.[key]));
  return {
    ...last,
    seconds: rounds.reduce((sum, r) => sum + (r.seconds ?? 0), 0),
    rps: median(rounds.map((r) => r.rps)) ?? 0,
    latencyMs: {
      count: rounds.reduce((sum, r) => sum + (r.latencyMs?.count ?? 0), 0),
      mean: latency("mean"),
      p50: latency("p50"),
      p90: latency("p90"),
      p99: latency("p99"),
      max: Math.max(...rounds.map((r) => r.latencyMs?.max ?? 0)),
    },
    ok: rounds.reduce((sum, r) => sum + (r.ok ?? 0), 0),
    non2xx: rounds.reduce((sum, r) => sum + (r.non2xx ?? 0), 0),
    errors: rounds.reduce((sum, r) => sum + (r.errors ?? 0), 0),
    statusCounts: sumCounts(rounds.map((r) => r.statusCounts)),
    runTotals: sumCounts(rounds.map((r) => r.runTotals)),
    cpu: medianCpu(rounds.map((r) => r.cpu)),
    clientCores: Math.max(...rounds.map((r) => r.clientCores ?? 0)),
    rounds: rounds.map((r) => ({ rps: r.rps, p50: r.latencyMs?.p50 ?? null, p99: r.latencyMs?.p99 ?? null, cpuUsPerRequest: r.cpu.usPerRequestTotal })),
  };
}

/**
 * One streamed result from several rounds, as combineLoadRounds does.
 * @param {StreamResult[]} rounds
 * @returns {StreamResult}
 */
export function combineStreamRounds(rounds) {
  if (rounds.length === 1) return rounds[0];
  const last = /** @type {StreamResult} */ (rounds.at(-1));
  /**
   * @param {"ttftMs" | "totalMs"} which
   * @returns {import("./stats.js").Distribution}
   */
  const dist = (which) => ({
    count: rounds.reduce((sum, r) => sum + (r[which]?.count ?? 0), 0),
    mean: median(rounds.map((r) => r[which]?.mean)),
    p50: median(rounds.map((r) => r[which]?.p50)),
    p90: median(rounds.map((r) => r[which]?.p90)),
    p99: median(rounds.map((r) => r[which]?.p99)),
    max: Math.max(...rounds.map((r) => r[which]?.max ?? 0)),
  });
  return {
    ...last,
    seconds: rounds.reduce((sum, r) => sum + (r.seconds ?? 0), 0),
    ok: rounds.reduce((sum, r) => sum + (r.ok ?? 0), 0),
    failed: rounds.reduce((sum, r) => sum + (r.failed ?? 0), 0),
    errors: sumCounts(rounds.map((r) => r.errors)),
    ttftMs: dist("ttftMs"),
    totalMs: dist("totalMs"),
    cpu: medianCpu(rounds.map((r) => r.cpu)),
    clientCores: Math.max(...rounds.map((r) => r.clientCores ?? 0)),
    rounds: rounds.map((r) => ({ ttftP50: r.ttftMs?.p50 ?? null, totalP50: r.totalMs?.p50 ?? null, ok: r.ok })),
  };
}
