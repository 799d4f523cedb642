#!/usr/bin/env node
// `npm run bench`: measures, side by side in one run, straight to a mock
// upstream, a minimal Node proxy, LLM Mesh all-in-one, LLM Mesh as five
// processes (and Portkey's gateway with --portkey). Prints a markdown summary,
// writes bench/results/<time>.json and regenerates docs/performance.md + .svg.
// `npm run bench -- --help` lists the flags; see docs/performance.md for the method.
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";
import { performance } from "node:perf_hooks";
import { setTimeout } from "node:timers";
import { request } from "undici";
import { USAGE, UsageError, parseArgs } from "./lib/args.js";
import { barChartSvg } from "./lib/chart.js";
import { installCleanup, killAllChildren, stopAllChildren, tasksetAvailable } from "./lib/children.js";
import { combineLoadRounds, combineStreamRounds, holdStreams, measureLoad, measureStreams, soak } from "./lib/measure.js";
import { ANSWER_TEXT, ANSWER_WORDS, MODEL, STREAM_MODEL, chatRequestBody } from "./lib/payload.js";
import { CLOCK_TICKS, procAvailable } from "./lib/proc-stats.js";
import { MESH_RPCS_PER_REQUEST, loadRunFlagged, performancePage, resultsMarkdown } from "./lib/report.js";
import { REPO, startAllInOne, startMesh, startMinimalProxy, startMock, straightTarget, writeMeshConfig } from "./lib/targets.js";
import { ensurePortkey, startPortkey } from "./lib/portkey.js";
import { heapSlackToManage } from "@llmmesh/common";

/** Stream profiles of the mock: quick streams for TTFT, slow ones for --streams. */
const MOCK_PROFILES = { streamChunks: ANSWER_WORDS.length, streamDelayMs: 2, slowChunks: 20, slowDelayMs: 1000 };
/** How fast --streams opens connections (a burst would overflow listen backlogs). */
const HOLD_RAMP_PER_SECOND = 1000;
/** Connections of the unmeasured pre-warm load (--prewarm). */
const PREWARM_CONNECTIONS = 16;
/** Warm-up of every round after a target's first at a concurrency. */
const LATER_ROUND_WARMUP_MS = 300;

/**
 * The bound on V8's heap growth LLM Mesh's processes ran with (MiB of garbage
 * past each full collection; 0: V8's own heuristics): every child inherits
 * this process's environment, and reads it with the same function, so a
 * value it would refuse stops the bench here.
 * @returns {{ slackMiB: number, fromEnv: boolean }}
 */
function meshHeapSlack() {
  try {
    return { slackMiB: (heapSlackToManage(process.env, []) ?? 0) / 2 ** 20, fromEnv: Boolean(process.env.LLMMESH_HEAP_SLACK_MIB?.trim()) };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** @param {string} message */
function log(message) {
  process.stderr.write(`${message}\n`);
}

/**
 * Which cores the load generator, the mock and the servers may use.
 * @param {"loader" | "split" | "none"} mode
 * @param {number} cores
 */
function coreSplit(mode, cores) {
  if (mode === "none" || cores < 2 || !tasksetAvailable()) {
    const why = mode === "none" ? "--pin none" : cores < 2 ? "one core only" : "taskset not available";
    return { loader: undefined, mock: undefined, servers: undefined, text: `nothing pinned (${why}): load generator, mock and servers share all ${cores} cores` };
  }
  const last = String(cores - 1);
  const rest = cores === 2 ? "0" : `0-${cores - 2}`;
  if (mode === "split") {
    return {
      loader: last,
      mock: last,
      servers: rest,
      text: `load generator and mock pinned to core ${last}, every measured server to core${cores === 2 ? "" : "s"} ${rest} (taskset)`,
    };
  }
  return {
    loader: last,
    mock: undefined,
    servers: undefined,
    text:
      `load generator pinned to core ${last} (taskset), mock and servers unpinned on all ${cores} cores — ` +
      "the client cannot take more than one core from the servers, and a multi-process target (the mesh) may still use every core",
  };
}

/** @param {string[]} args */
function git(args) {
  try {
    return execFileSync("git", args, { cwd: REPO, encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return "";
  }
}

/**
 * Sends one non-streamed and one streamed request and checks the answers, so a
 * target that answers wrongly is reported instead of measured.
 * @param {import("./lib/targets.js").Target} target
 * @returns {Promise<{ responseBytes: number, streamError?: string }>}
 */
async function smokeCheck(target) {
  const url = `${target.url}/v1/chat/completions`;
  const headers = { "content-type": "application/json", ...target.headers };
  const plain = await request(url, { method: "POST", headers, body: chatRequestBody(MODEL), headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await plain.body.text();
  if (plain.statusCode !== 200) throw new Error(`non-streamed request answered ${plain.statusCode}: ${text.slice(0, 300)}`);
  const content = JSON.parse(text).choices?.[0]?.message?.content;
  if (content !== ANSWER_TEXT) throw new Error(`non-streamed answer has unexpected content ${JSON.stringify(content)}`);
  let streamError;
  try {
    const streamed = await request(url, { method: "POST", headers, body: chatRequestBody(STREAM_MODEL, { stream: true }), headersTimeout: 10_000, bodyTimeout: 10_000 });
    const events = await streamed.body.text();
    if (streamed.statusCode !== 200) throw new Error(`answered ${streamed.statusCode}: ${events.slice(0, 300)}`);
    const tokens = events
      .split("\n")
      .filter((line) => line.startsWith("data:") && !line.includes("[DONE]"))
      .map((line) => JSON.parse(line.slice(5)).choices?.[0]?.delta?.content)
      .filter((c) => typeof c === "string" && c.length > 0);
    if (tokens.join("") !== ANSWER_TEXT || !events.includes("data: [DONE]")) throw new Error(`unexpected stream: ${events.slice(0, 300)}`);
  } catch (err) {
    streamError = err instanceof Error ? err.message : String(err);
  }
  return { responseBytes: Buffer.byteLength(text), streamError };
}

/**
 * @param {import("./lib/args.js").Options} options
 * @param {number} targetCount
 */
function budgetSeconds(options, targetCount) {
  // Per target: the first round's warm-up, every round's measured window and
  // short warm-up, and ~0.4 s to start each load generator.
  const perTarget = (/** @type {number} */ measureS) => options.warmupS + options.rounds * (measureS + 0.4) + (options.rounds - 1) * (LATER_ROUND_WARMUP_MS / 1000);
  const load = options.connections.length * targetCount * perTarget(options.durationS) + targetCount * (options.prewarmS + 1);
  const streams = targetCount * (perTarget(options.streamDurationS) + options.prewarmS + 1);
  const hold = options.streams > 0 ? options.streamsTargets.length * options.streamsProtocols.length * (options.streams / HOLD_RAMP_PER_SECOND + (MOCK_PROFILES.slowChunks * MOCK_PROFILES.slowDelayMs) / 1000 + 30) : 0;
  // A soak slice may run as slowly as 200 requests/s before it is stopped.
  const soakS = options.soak > 0 ? options.soakTargets.length * (options.soak / 200 + 60) : 0;
  return { estimate: load + streams + hold + 20, deadline: load + streams + hold + soakS + 300 + (options.portkey ? 300 : 0) };
}

/**
 * Regenerates docs/performance.md and docs/performance.svg from one run's results.
 * @param {import("./lib/report.js").Results} results
 */
async function writeDocs(results) {
  const { load, meta } = results;
  const connections = /** @type {number[]} */ (meta.options.connections);
  const docs = join(REPO, "docs");
  await mkdir(docs, { recursive: true });
  await writeFile(join(docs, "performance.md"), performancePage(results));
  const ids = results.targets.map((t) => t.id).filter((id) => id !== "straight" && load.some((r) => r.target === id));
  /** @param {string} id */
  const runsOf = (id) => connections.map((c) => load.find((r) => r.target === id && r.connections === c));
  const svg = barChartSvg({
    title: "LLM Mesh: non-streamed requests/s (higher is better)",
    subtitle: `${String(meta.date).slice(0, 16).replace("T", " ")} UTC · ${meta.cores} × ${meta.cpuModel} · ${String(meta.coreSplit).split(" (")[0]}${meta.options.quick ? " · --quick" : ""}`,
    groups: connections.map((c) => `${c} connection${c === 1 ? "" : "s"}`),
    baseline: { label: "straight to mock", values: runsOf("straight").map((run) => run?.rps ?? null) },
    series: ids.map((id) => ({
      id,
      label: results.targets.find((t) => t.id === id)?.label ?? id,
      values: runsOf(id).map((run) => run?.rps ?? null),
      flagged: runsOf(id).map((run) => (run ? loadRunFlagged(run) : false)),
    })),
  });
  await writeFile(join(docs, "performance.svg"), svg);
  log("docs/performance.md and docs/performance.svg regenerated");
}

async function main() {
  const startedAt = performance.now();
  // What was measured is the tree as it was when the run began (later edits
  // are not in the processes it started); the page and chart this command
  // writes are its output, not a change to what it measures.
  const commit = git(["rev-parse", "--short", "HEAD"]) || "unknown";
  const dirty = git(["status", "--porcelain", "--", ".", ":!docs/performance.md", ":!docs/performance.svg"]).length > 0;
  installCleanup(log);
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (options.fromResults) {
    // Re-renders a past run (after a change to the report's format): nothing is measured.
    /** @type {import("./lib/report.js").Results} */
    const results = JSON.parse(readFileSync(options.fromResults, "utf8"));
    process.stdout.write(`${resultsMarkdown(results)}\n`);
    if (options.docs) await writeDocs(results);
    return;
  }
  if (!procAvailable()) throw new Error("the benchmark reads CPU and memory from /proc: it runs on Linux only");
  const entries = ["packages/launcher/dist/main.js", ...["policy", "adapter-openai", "adapter-custom", "router", "gateway"].map((s) => `services/${s}/dist/main.js`)];
  const missing = entries.filter((entry) => !existsSync(join(REPO, entry)));
  if (missing.length > 0) throw new Error(`not built (${missing.join(", ")}): run \`npm run build\` first (npm run bench does)`);
  const heapSlack = meshHeapSlack();

  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const split = coreSplit(options.pin, cores);
  const budget = budgetSeconds(options, options.targets.length);
  log(`LLM Mesh benchmark: ${options.targets.join(", ")} at ${options.connections.join("/")} connections; about ${Math.ceil(budget.estimate / 60)} min`);
  log(`cores: ${split.text}`);
  // Every run is bounded; this bounds the whole, whatever hangs.
  setTimeout(() => {
    log(`the benchmark exceeded its ${Math.round(budget.deadline)} s budget: stopping`);
    killAllChildren();
    process.exit(2);
  }, budget.deadline * 1000).unref();

  /** @type {import("./lib/report.js").Results["failures"]} */
  const failures = [];
  const mock = await startMock(MOCK_PROFILES, split.mock);
  const config = await writeMeshConfig(mock.url);
  // Also on Ctrl-C and errors, which end the process without reaching the end of main.
  process.once("exit", config.removeSync);
  /** @type {import("./lib/targets.js").Target[]} */
  const targets = [straightTarget(mock)];
  /** @type {Record<string, () => Promise<import("./lib/targets.js").Target>>} */
  const starters = {
    proxy: () => startMinimalProxy(mock, 1, split.servers),
    proxy2: () => startMinimalProxy(mock, 2, split.servers),
    aio: () => startAllInOne(config.path, split.servers),
    mesh: () => startMesh(config.path, split.servers),
    portkey: async () => startPortkey(await ensurePortkey(options.portkeyVersion, log), mock.url, split.servers),
  };
  for (const id of options.targets) {
    const start = starters[id];
    if (!start) continue;
    try {
      targets.push(await start());
    } catch (err) {
      failures.push({ target: id, phase: "start", message: err instanceof Error ? err.message : String(err) });
      log(`  ${id} did not start: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  }

  let responseBytes = 0;
  /** @type {import("./lib/targets.js").Target[]} the targets that answered correctly */
  const measured = [];
  /** @type {Set<string>} */
  const streamable = new Set();
  for (const target of targets) {
    try {
      const check = await smokeCheck(target);
      if (target.id === "straight") responseBytes = check.responseBytes;
      measured.push(target);
      if (check.streamError) failures.push({ target: target.id, phase: "streamed check", message: check.streamError });
      else streamable.add(target.id);
    } catch (err) {
      failures.push({ target: target.id, phase: "check", message: err instanceof Error ? err.message : String(err) });
      log(`  ${target.id} answered wrongly, not measured: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!measured.some((t) => t.id === "straight")) throw new Error("the mock upstream does not answer: nothing can be measured");

  /** @type {Set<string>} targets with a process that exited unasked: measured no further */
  const dead = new Set();
  /**
   * Records it when a process of the target exited unasked; true when all are still up.
   * @param {import("./lib/targets.js").Target} target
   * @param {string} phase
   */
  const stillUp = (target, phase) => {
    if (dead.has(target.id)) return false;
    const crashes = target.crashes();
    if (crashes.length === 0) return true;
    dead.add(target.id);
    for (const message of crashes) failures.push({ target: target.id, phase: `exited unasked, noticed ${phase}`, message });
    log(`  ${target.id}: ${crashes.join("; ")}`);
    return false;
  };

  const context = { mock: mock.proc, loaderCpus: split.loader };
  /**
   * Warm-up of a round: the full one before a target's first round at a
   * concurrency, a short one after (the target is warm, only the new
   * connections are not).
   * @param {number} round
   */
  const warmupMs = (round) => (round === 0 ? options.warmupS * 1000 : Math.min(options.warmupS * 1000, LATER_ROUND_WARMUP_MS));
  /**
   * The targets in the order of a round: rotated each round, so no target is
   * always measured right after the same one.
   * @param {number} round
   */
  const inTurn = (round) => measured.map((_, i) => measured[(i + round) % measured.length]);

  // Unmeasured load first: a slow target (or a slow machine) would otherwise
  // be measured while its JIT is still compiling the hot path, because the
  // warm-up before each round is counted in seconds, not in requests.
  if (options.prewarmS > 0) {
    for (const target of measured) {
      if (target.id === "straight" || !stillUp(target, "before the pre-warm")) continue;
      try {
        await measureLoad(context, target, PREWARM_CONNECTIONS, { warmupMs: options.prewarmS * 1000, measureMs: 100 });
      } catch (err) {
        log(`  pre-warm ${target.id}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
      }
    }
  }

  /** @type {import("./lib/measure.js").LoadResult[]} */
  const load = [];
  for (const connections of options.connections) {
    /** @type {Map<string, import("./lib/measure.js").LoadResult[]>} */
    const rounds = new Map();
    for (let round = 0; round < options.rounds; round++) {
      for (const target of inTurn(round)) {
        if (!stillUp(target, `before non-streamed c=${connections}`)) continue;
        try {
          const run = await measureLoad(context, target, connections, { warmupMs: warmupMs(round), measureMs: options.durationS * 1000 });
          if (!stillUp(target, `after non-streamed c=${connections}`)) continue;
          if (loadRunFlagged(run)) run.serverLog = target.logTail();
          rounds.set(target.id, [...(rounds.get(target.id) ?? []), run]);
        } catch (err) {
          failures.push({ target: target.id, phase: `non-streamed c=${connections}`, message: err instanceof Error ? err.message : String(err) });
          log(`  c=${connections} ${target.id}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
        }
      }
    }
    for (const target of measured) {
      const runs = rounds.get(target.id);
      if (!runs) continue;
      const run = combineLoadRounds(runs);
      load.push(run);
      log(
        `  c=${String(connections).padEnd(3)} ${target.id.padEnd(8)} ${String(Math.round(run.rps)).padStart(6)} req/s  p50 ${run.latencyMs.p50?.toFixed(2)} ms  p99 ${run.latencyMs.p99?.toFixed(2)} ms` +
          `  CPU ${run.cpu.usPerRequestTotal === null ? "–" : Math.round(run.cpu.usPerRequestTotal)} µs/req${loadRunFlagged(run) ? `  ⚠ errors ${run.errors}, non-2xx ${run.non2xx}` : ""}`,
      );
    }
  }

  // The streamed path has code of its own (stream setup, per-chunk relay):
  // it gets its own unmeasured load, for the same reason as the one above.
  if (options.prewarmS > 0) {
    for (const target of measured) {
      if (target.id === "straight" || target.id === "proxy2" || !streamable.has(target.id) || !stillUp(target, "before the streamed pre-warm")) continue;
      try {
        await measureStreams(context, target, { concurrency: PREWARM_CONNECTIONS, warmupMs: options.prewarmS * 1000, measureMs: 100, expectTokens: MOCK_PROFILES.streamChunks });
      } catch (err) {
        log(`  streamed pre-warm ${target.id}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
      }
    }
  }

  /** @type {Map<string, import("./lib/measure.js").StreamResult[]>} */
  const streamRounds = new Map();
  for (let round = 0; round < options.rounds; round++) {
    for (const target of inTurn(round)) {
      if (target.id === "proxy2" || !streamable.has(target.id) || !stillUp(target, "before the streamed run")) continue;
      try {
        const run = await measureStreams(context, target, {
          concurrency: options.streamConcurrency,
          warmupMs: warmupMs(round),
          measureMs: options.streamDurationS * 1000,
          expectTokens: MOCK_PROFILES.streamChunks,
        });
        stillUp(target, "after the streamed run");
        if (run.failed > 0) run.serverLog = target.logTail();
        streamRounds.set(target.id, [...(streamRounds.get(target.id) ?? []), run]);
      } catch (err) {
        failures.push({ target: target.id, phase: "streamed", message: err instanceof Error ? err.message : String(err) });
        log(`  streamed ${target.id}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
      }
    }
  }
  /** @type {import("./lib/measure.js").StreamResult[]} */
  const streams = [];
  for (const target of measured) {
    const runs = streamRounds.get(target.id);
    if (!runs) continue;
    const run = combineStreamRounds(runs);
    streams.push(run);
    log(`  streamed ${target.id.padEnd(8)} TTFT p50 ${run.ttftMs.p50?.toFixed(2)} ms  p99 ${run.ttftMs.p99?.toFixed(2)} ms  total p50 ${run.totalMs.p50?.toFixed(2)} ms${run.failed > 0 ? `  ⚠ ${run.failed} failed` : ""}`);
  }

  // Slow streams and the soak each get fresh processes, so that neither
  // inherits the heap of the runs before it; the measured ones stop here.
  await Promise.all(measured.map((t) => t.stop()));
  dead.clear();
  /** @param {string} id */
  const fresh = (id) => (id === "straight" ? Promise.resolve(straightTarget(mock)) : starters[id]?.());

  /** @type {import("./lib/measure.js").HoldResult[]} */
  const hold = [];
  if (options.streams > 0) {
    for (const [id, protocol] of options.streamsTargets.flatMap((t) => options.streamsProtocols.map((p) => /** @type {const} */ ([t, p])))) {
      log(`  ${options.streams} slow streams against ${id} over ${protocol} ...`);
      /** @type {import("./lib/targets.js").Target | undefined} */
      let target;
      try {
        target = await fresh(id);
        if (!target) continue;
        const run = await holdStreams(
            context,
            target,
            { count: options.streams, expectTokens: MOCK_PROFILES.slowChunks, streamMs: MOCK_PROFILES.slowChunks * MOCK_PROFILES.slowDelayMs, rampPerSecond: HOLD_RAMP_PER_SECOND, protocol },
          log,
        );
        if (run.failed > 0 || run.completed !== run.count) run.serverLog = target.logTail();
        hold.push(run);
        stillUp(target, `after ${options.streams} slow streams over ${protocol}`);
      } catch (err) {
        failures.push({ target: id, phase: `${options.streams} slow streams over ${protocol}`, message: err instanceof Error ? err.message : String(err) });
      } finally {
        await target?.stop();
      }
    }
  }

  /** @type {import("./lib/measure.js").SoakResult[]} */
  const soaks = [];
  if (options.soak > 0) {
    for (const id of options.soakTargets) {
      log(`  soak: ${options.soak} requests against ${id} ...`);
      /** @type {import("./lib/targets.js").Target | undefined} */
      let target;
      try {
        target = await fresh(id);
        if (!target) continue;
        const run = await soak(context, target, { requests: options.soak, connections: Math.max(...options.connections) }, log);
        if (run.errors + run.non2xx > 0) run.serverLog = target.logTail();
        soaks.push(run);
        stillUp(target, "after the soak");
      } catch (err) {
        failures.push({ target: id, phase: "soak", message: err instanceof Error ? err.message : String(err) });
      } finally {
        await target?.stop();
      }
    }
  }

  await stopAllChildren();
  await config.remove();

  const date = new Date();
  const resultsFile = `${date.toISOString().replace(/[:.]/g, "-")}.json`;
  /** @type {import("./lib/report.js").Results} */
  const results = {
    meta: {
      date: date.toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpuModel: os.cpus()[0]?.model ?? "unknown CPU",
      cores,
      coreSplit: split.text,
      commit,
      dirty,
      autocannonVersion: JSON.parse(readFileSync(join(REPO, "node_modules", "autocannon", "package.json"), "utf8")).version,
      clockTicks: CLOCK_TICKS,
      requestBytes: Buffer.byteLength(chatRequestBody(MODEL)),
      responseBytes,
      mockProfiles: MOCK_PROFILES,
      holdRampPerSecond: HOLD_RAMP_PER_SECOND,
      openFilesLimit: openFilesLimit(),
      laterRoundWarmupMs: LATER_ROUND_WARMUP_MS,
      streamPrewarm: options.prewarmS > 0,
      meshRpcsPerRequest: MESH_RPCS_PER_REQUEST,
      meshHeapSlack: heapSlack,
      options,
      resultsFile,
      elapsedS: (performance.now() - startedAt) / 1000,
    },
    targets: targets.map((t) => ({ id: t.id, label: t.label, roles: t.procs.map((p) => p.role), note: t.note })),
    load,
    streams,
    hold,
    soak: soaks,
    failures,
  };

  const resultsDir = join(REPO, "bench", "results");
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, resultsFile), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${resultsMarkdown(results)}\nRaw results: bench/results/${resultsFile}\n`);

  if (options.docs) await writeDocs(results);
  log(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    if (err instanceof UsageError) {
      log(err.message);
      process.exit(2);
    }
    log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    await stopAllChildren(1000);
    process.exit(1);
  },
);

/**
 * The hard limit on open files a process here may raise itself to (Node
 * raises its soft limit to it at start): with HTTP/1.1 on both sides, every
 * slow stream costs all-in-one two descriptors.
 * @returns {number | null}
 */
function openFilesLimit() {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === "unlimited" ? null : Number(hard);
}
