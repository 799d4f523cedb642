// Streaming client, run as its own process (pinned like the load generator).
//
// Modes (job.mode):
//   latency: `concurrency` clients loop over streamed chat completions; after
//            warmupMs, for measureMs, each stream's time to first token (the
//            first `data:` event with non-empty delta.content) and total time
//            (until the end of the response, after `data: [DONE]`) are recorded.
//   hold:    opens `count` streams (ramped at `rampPerSecond`), all at once,
//            and waits for every one to complete; reports progress each 500 ms.
// Output: JSON lines, as load-worker.js ("start", "end", "progress", "done").
//
// Usage: node stream-worker.js '<job JSON>'
import * as http2 from "node:http2";
import process from "node:process";
import { performance } from "node:perf_hooks";
import { clearInterval, setInterval, setTimeout } from "node:timers";
import { StringDecoder } from "node:string_decoder";
import { Pool } from "undici";
import { Samples } from "../lib/stats.js";

/**
 * @typedef {object} StreamJob
 * @property {"latency" | "hold"} mode
 * @property {string} origin http://host:port
 * @property {string} path
 * @property {Record<string, string>} headers
 * @property {string} body
 * @property {number} expectTokens content chunks a complete stream carries
 * @property {number} [concurrency] latency mode
 * @property {number} [warmupMs] latency mode
 * @property {number} [measureMs] latency mode
 * @property {number} [count] hold mode
 * @property {number} [rampPerSecond] hold mode
 * @property {number} [streamTimeoutMs] longest silence allowed within one stream
 * @property {"h1" | "h2c"} [protocol] HTTP/1.1 with a connection per stream (default), or
 *           cleartext HTTP/2 with up to H2_STREAMS_PER_SESSION streams per connection
 */

/**
 * @typedef {object} StreamOutcome
 * @property {boolean} ok complete: 200, every token, `[DONE]`
 * @property {number} status
 * @property {number | null} ttftMs
 * @property {number} totalMs
 * @property {string} [error]
 */

/**
 * A chunk whose delta carries non-empty text content. A regular expression,
 * not JSON.parse: with 10,000 streams open the client must stay cheap, and
 * every target sends compact JSON.stringify output.
 */
const HAS_TOKEN = /"delta"\s*:\s*\{[^{}]*"content"\s*:\s*"[^"]/;

/** @param {object} message */
function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** @type {StreamJob} */
const job = JSON.parse(process.argv[2] ?? "{}");
const headers = { "content-type": "application/json", accept: "text/event-stream", ...job.headers };
const pool = new Pool(job.origin, {
  // No cap: in hold mode every stream needs its own connection.
  pipelining: 1,
  keepAliveTimeout: 60_000,
  headersTimeout: job.streamTimeoutMs ?? 60_000,
  bodyTimeout: job.streamTimeoutMs ?? 60_000,
});

/**
 * Streams per HTTP/2 connection in h2c mode, the SETTINGS_MAX_CONCURRENT_STREAMS
 * most servers advertise: many clients each multiplexing up to 100 streams.
 */
const H2_STREAMS_PER_SESSION = 100;

/** @type {{ session: http2.ClientHttp2Session, active: number }[]} */
const sessions = [];

/** An HTTP/2 connection to the target with room for one more stream. */
function h2Session() {
  let entry = sessions.find((e) => e.active < H2_STREAMS_PER_SESSION && !e.session.closed && !e.session.destroyed);
  if (!entry) {
    const session = http2.connect(job.origin, { settings: { initialWindowSize: 1 << 20 } });
    session.on("error", () => {});
    entry = { session, active: 0 };
    sessions.push(entry);
  }
  return entry;
}

/**
 * Sends one streamed request and returns its status and body chunks.
 * @returns {Promise<{ status: number, chunks: AsyncIterable<Buffer> }>}
 */
async function send() {
  if (job.protocol !== "h2c") {
    const response = await pool.request({ method: "POST", path: job.path, headers, body: job.body });
    return { status: response.statusCode, chunks: response.body };
  }
  const entry = h2Session();
  entry.active++;
  const stream = entry.session.request({ ":method": "POST", ":path": job.path, ...headers });
  stream.once("close", () => entry.active--);
  stream.setTimeout(job.streamTimeoutMs ?? 60_000, () => stream.destroy(new Error(`silent for ${job.streamTimeoutMs ?? 60_000} ms`)));
  stream.end(job.body);
  const status = await new Promise((resolve, reject) => {
    stream.once("response", (h) => resolve(Number(h[":status"])));
    stream.once("error", reject);
    stream.once("close", () => reject(new Error(`stream closed before its headers (code ${stream.rstCode})`)));
  });
  return { status, chunks: stream };
}

/**
 * Sends one streamed request and reads it to the end.
 * @returns {Promise<StreamOutcome>}
 */
async function oneStream() {
  const started = performance.now();
  let ttftMs = null;
  let tokens = 0;
  let done = false;
  let status = 0;
  try {
    const response = await send();
    status = response.status;
    const decoder = new StringDecoder("utf8");
    let pending = "";
    for await (const chunk of response.chunks) {
      pending += decoder.write(chunk);
      let end;
      while ((end = pending.indexOf("\n\n")) >= 0) {
        const event = pending.slice(0, end);
        pending = pending.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") {
            done = true;
            continue;
          }
          if (status === 200 && HAS_TOKEN.test(data)) {
            tokens++;
            if (ttftMs === null) ttftMs = performance.now() - started;
          }
        }
      }
    }
    const totalMs = performance.now() - started;
    const ok = status === 200 && done && tokens === job.expectTokens;
    const error = ok ? undefined : `status ${status}, ${tokens}/${job.expectTokens} tokens, ${done ? "" : "no "}[DONE]${status === 200 ? "" : `: ${pending.slice(0, 200)}`}`;
    return { ok, status, ttftMs, totalMs, error };
  } catch (err) {
    return { ok: false, status, ttftMs, totalMs: performance.now() - started, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/**
 * Cores this client process kept busy since `since`: near 1 means the client
 * (pinned to one core) may have been the bottleneck.
 * @param {NodeJS.CpuUsage} since
 * @param {number} wallMs
 */
function clientCores(since, wallMs) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000 / wallMs;
}

/** Bounded list of distinct error messages, for the report. */
class ErrorLog {
  /** @type {Map<string, number>} */
  #counts = new Map();

  /** @param {string | undefined} message */
  add(message) {
    // Request ids and ports would make every message distinct.
    const key = (message ?? "unknown").replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>").replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>");
    if (this.#counts.has(key) || this.#counts.size < 10) this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  toJSON() {
    return Object.fromEntries(this.#counts);
  }
}

async function latencyMode() {
  const ttft = new Samples();
  const total = new Samples();
  const errors = new ErrorLog();
  let measuring = false;
  let stopped = false;
  let ok = 0;
  let failed = 0;
  let windowStart = 0;
  let windowEnd = 0;
  const loop = async () => {
    while (!stopped) {
      const counted = measuring;
      const outcome = await oneStream();
      // A target that fails at once (connection refused) must not be hammered in a tight loop.
      if (!outcome.ok) await new Promise((resolve) => setTimeout(resolve, 10));
      // Only streams that started and ended inside the window count.
      if (!counted || !measuring) continue;
      if (outcome.ok && outcome.ttftMs !== null) {
        ok++;
        ttft.push(outcome.ttftMs);
        total.push(outcome.totalMs);
      } else {
        failed++;
        errors.add(outcome.error);
      }
    }
  };
  const clients = Array.from({ length: job.concurrency ?? 1 }, loop);
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs ?? 0));
  measuring = true;
  windowStart = performance.now();
  const cpuAtStart = process.cpuUsage();
  emit({ event: "start" });
  await new Promise((resolve) => setTimeout(resolve, job.measureMs ?? 0));
  measuring = false;
  windowEnd = performance.now();
  const seconds = (windowEnd - windowStart) / 1000;
  emit({ event: "end", seconds, ok, failed, streamsPerSecond: ok / seconds, ttftMs: ttft.distribution(), totalMs: total.distribution(), errors: errors.toJSON(), clientCores: clientCores(cpuAtStart, windowEnd - windowStart) });
  stopped = true;
  await Promise.all(clients);
}

async function holdMode() {
  const count = job.count ?? 0;
  const perTick = Math.max(1, Math.round((job.rampPerSecond ?? 1000) / 20));
  const errors = new ErrorLog();
  const total = new Samples();
  const ttft = new Samples();
  let open = 0;
  let maxOpen = 0;
  let completed = 0;
  let failed = 0;
  let started = 0;
  const begin = performance.now();
  const cpuAtStart = process.cpuUsage();
  /** @type {Promise<void>[]} */
  const all = [];
  const progress = setInterval(() => emit({ event: "progress", started, open, maxOpen, completed, failed, seconds: (performance.now() - begin) / 1000 }), 500);
  emit({ event: "start" });
  // Ramp: a listen backlog (511 by default in Node) overflows if 10,000 connects arrive at once.
  while (started < count) {
    const batch = Math.min(perTick, count - started);
    for (let i = 0; i < batch; i++) {
      started++;
      open++;
      maxOpen = Math.max(maxOpen, open);
      all.push(
        oneStream().then((outcome) => {
          open--;
          if (outcome.ok) {
            completed++;
            total.push(outcome.totalMs);
            if (outcome.ttftMs !== null) ttft.push(outcome.ttftMs);
          } else {
            failed++;
            errors.add(outcome.error);
          }
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await Promise.all(all);
  clearInterval(progress);
  const seconds = (performance.now() - begin) / 1000;
  emit({ event: "end", seconds, count, completed, failed, maxOpen, ttftMs: ttft.distribution(), totalMs: total.distribution(), errors: errors.toJSON(), clientCores: clientCores(cpuAtStart, seconds * 1000) });
}

try {
  if (job.mode === "hold") await holdMode();
  else await latencyMode();
  emit({ event: "done" });
  // Streams left open by a failure must not keep the worker alive.
  for (const { session } of sessions) session.destroy();
  await Promise.race([pool.close(), new Promise((resolve) => setTimeout(resolve, 1000))]);
  process.exit(0);
} catch (err) {
  emit({ event: "error", message: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
}
