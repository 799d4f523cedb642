// Load generator, run as its own process (pinned to a core by the harness) so
// that its CPU is never counted against, nor taken from, the servers.
//
// One autocannon run per job. Two modes:
//   window: warm up for warmupMs, then measure for measureMs. Latencies are
//           recorded per response from autocannon's own hrtime durations
//           (float ms: its histogram has 1 ms resolution, too coarse here).
//   amount: send exactly `amount` requests (used by --soak).
// Progress is one JSON object per stdout line: {"event":"start"} when the
// measured window opens, {"event":"end", ...} when it closes (the harness
// reads /proc CPU counters at both), then {"event":"done", ...} with totals.
//
// Usage: node load-worker.js '<job JSON>'
import autocannon from "autocannon";
import process from "node:process";
import { performance } from "node:perf_hooks";
import { setTimeout } from "node:timers";
import { Samples } from "../lib/stats.js";

/**
 * @typedef {object} LoadJob
 * @property {string} url full URL of the endpoint
 * @property {string} method
 * @property {Record<string, string>} headers
 * @property {string} [body]
 * @property {number} connections
 * @property {number} [warmupMs] window mode
 * @property {number} [measureMs] window mode
 * @property {number} [amount] amount mode
 * @property {number} [timeoutS] autocannon's per-request timeout
 */

/** @param {object} message */
function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** @type {LoadJob} */
const job = JSON.parse(process.argv[2] ?? "{}");
const windowMode = job.amount === undefined;

const latencies = new Samples();
let measuring = !windowMode;
let windowStart = performance.now();
let windowEnd = windowStart;
let responses = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;
/** @type {Record<string, number>} */
const statusCounts = {};

const instance = autocannon(
  {
    url: job.url,
    method: /** @type {"POST"} */ (job.method),
    headers: job.headers,
    body: job.body,
    connections: job.connections,
    pipelining: 1,
    timeout: job.timeoutS ?? 10,
    // Window mode stops the run itself; the duration is only a backstop.
    ...(windowMode ? { duration: Math.ceil(((job.warmupMs ?? 0) + (job.measureMs ?? 0)) / 1000) + 30 } : { amount: job.amount }),
  },
  (err, result) => {
    if (!windowMode) windowEnd = performance.now();
    if (err) {
      emit({ event: "error", message: String(err) });
      process.exit(1);
    }
    if (!windowMode) emit(endMessage());
    emit({
      event: "done",
      totals: { requests: result.requests.total, errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, resets: result.resets, mismatches: result.mismatches },
    });
    process.exit(0);
  },
);

instance.on("response", (_client, statusCode, _bytes, responseTime) => {
  if (!measuring) return;
  responses++;
  statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
  if (statusCode >= 200 && statusCode < 300) {
    ok++;
    latencies.push(responseTime);
  } else {
    non2xx++;
  }
});
instance.on("reqError", () => {
  if (measuring) errors++;
});

let cpuAtStart = process.cpuUsage();

function endMessage() {
  const seconds = (windowEnd - windowStart) / 1000;
  // Cores this client kept busy: near 1 (it is pinned to one) means it may have been the bottleneck.
  const used = process.cpuUsage(cpuAtStart);
  const clientCores = (used.user + used.system) / 1e6 / seconds;
  return { event: "end", seconds, responses, ok, non2xx, errors, statusCounts, rps: ok / seconds, latencyMs: latencies.distribution(), clientCores };
}

if (windowMode) {
  setTimeout(() => {
    measuring = true;
    windowStart = performance.now();
    cpuAtStart = process.cpuUsage();
    emit({ event: "start" });
    setTimeout(() => {
      measuring = false;
      windowEnd = performance.now();
      emit(endMessage());
      instance.stop();
    }, job.measureMs ?? 0);
  }, job.warmupMs ?? 0);
} else {
  emit({ event: "start" });
}
