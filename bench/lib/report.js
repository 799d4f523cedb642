// Turns one run's results into markdown: the tables, the targets as ratios
// measured in the same run, and the page docs/performance.md.

/**
 * @typedef {import("./measure.js").LoadResult} LoadResult
 * @typedef {import("./measure.js").StreamResult} StreamResult
 * @typedef {import("./measure.js").HoldResult} HoldResult
 * @typedef {import("./measure.js").SoakResult} SoakResult
 *
 * @typedef {object} TargetInfo
 * @property {string} id
 * @property {string} label
 * @property {string[]} roles its processes
 * @property {string} [note]
 *
 * @typedef {object} Results
 * @property {Record<string, any>} meta
 * @property {TargetInfo[]} targets
 * @property {LoadResult[]} load
 * @property {StreamResult[]} streams
 * @property {HoldResult[]} hold
 * @property {SoakResult[]} soak
 * @property {{ target: string, phase: string, message: string }[]} failures
 */

/**
 * Internal RPCs per non-streamed request in the mesh: gateway→router Chat and
 * router→adapter Chat. The router admits a key's requests on a lease from
 * policy (router→policy Lease, one per key every few seconds or few hundred
 * requests), and settlements travel in batches (router→policy SettleBatch,
 * many requests per call), so neither is counted: the per-hop estimate
 * charges their small share to the two RPCs, which overstates, never
 * flatters, the cost of one hop. Update this if the router's calls change;
 * each run records the count it was measured with.
 */
export const MESH_RPCS_PER_REQUEST = 2;

/**
 * The RPCs per request a run was measured with: runs made before admission
 * leases did not record it, and made three (router→policy Admit on every request).
 * @param {Results} results
 */
function meshRpcsOf(results) {
  return typeof results.meta.meshRpcsPerRequest === "number" ? results.meta.meshRpcsPerRequest : 3;
}

/**
 * How a run's LLM Mesh processes held their heap, for runs that recorded it.
 * @param {Record<string, any>} meta
 * @returns {string | undefined}
 */
function heapText(meta) {
  if (!meta.meshHeapSlack) return undefined;
  const { slackMiB, fromEnv } = meta.meshHeapSlack;
  const how = fromEnv ? "set by `LLMMESH_HEAP_SLACK_MIB`" : "the default, `LLMMESH_HEAP_SLACK_MIB` unset";
  if (slackMiB === 0) return `V8's own heap growth heuristics (${how})`;
  return `a full collection is due once the old generation holds ${slackMiB} MiB more than the last one kept (at least 20 %, at most V8's own 4×; ${how})`;
}

const MiB = 2 ** 20;

/** @param {number | null | undefined} ms */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  return abs < 10 ? ms.toFixed(2) : abs < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** @param {number | null | undefined} ms */
function fmtAddedMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return `${ms >= 0 ? "+" : ""}${fmtMs(ms)}`;
}

/**
 * a − b, or null when either is unknown.
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 */
function minus(a, b) {
  return a === null || a === undefined || b === null || b === undefined ? null : a - b;
}

/** @param {number | null | undefined} value */
function fmtInt(value) {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : String(Math.round(value));
}

/** @param {number | null | undefined} bytes */
function fmtMiB(bytes) {
  return bytes === null || bytes === undefined ? "–" : (bytes / MiB).toFixed(1);
}

/** @param {number | null | undefined} ratio */
function fmtRatio(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "–";
  return `${ratio.toFixed(Math.abs(ratio) < 0.1 ? 3 : 2)}×`;
}

/**
 * A markdown table: the first column left-aligned, the figures right-aligned
 * (or every column left-aligned for a table of text).
 * @param {string[]} header
 * @param {string[][]} rows
 * @param {{ text?: boolean }} [options]
 */
function table(header, rows, options = {}) {
  const line = (/** @type {string[]} */ cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((h, i) => (i === 0 || options.text ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/**
 * Errors of a load run as a table cell: empty when clean, flagged otherwise.
 * @param {LoadResult} run
 */
export function loadRunFlagged(run) {
  const totals = run.runTotals ?? {};
  return run.non2xx > 0 || run.errors > 0 || (totals.errors ?? 0) > 0 || (totals.timeouts ?? 0) > 0 || (totals.non2xx ?? 0) > 0;
}

/** @param {LoadResult} run */
function loadErrorsCell(run) {
  if (!loadRunFlagged(run)) return "0";
  const totals = run.runTotals ?? {};
  const parts = [];
  if (run.errors > 0) parts.push(`${run.errors} errors`);
  if (run.non2xx > 0) parts.push(`${run.non2xx} non-2xx`);
  const whole = [];
  if (totals.errors) whole.push(`${totals.errors} errors`);
  if (totals.timeouts) whole.push(`${totals.timeouts} timeouts`);
  if (totals.non2xx) whole.push(`${totals.non2xx} non-2xx`);
  return `⚠ ${parts.join(", ") || "0 in window"}${whole.length > 0 ? ` (whole run: ${whole.join(", ")})` : ""}`;
}

/**
 * @param {Results} results
 * @param {string} target
 * @param {number} connections
 */
function loadRun(results, target, connections) {
  return results.load.find((r) => r.target === target && r.connections === connections);
}

/**
 * A load run fit for comparison: runs with errors or non-2xx answers are
 * not (a fast failure is cheap).
 * @param {Results} results
 * @param {string} target
 * @param {number} connections
 */
function comparableLoadRun(results, target, connections) {
  const run = loadRun(results, target, connections);
  return run && !loadRunFlagged(run) ? run : undefined;
}

/**
 * @param {Results} results
 * @param {string} target
 */
function streamRun(results, target) {
  return results.streams.find((r) => r.target === target);
}

/** @param {Results} results */
function labelOf(results) {
  return (/** @type {string} */ id) => results.targets.find((t) => t.id === id)?.label ?? id;
}

/**
 * Non-streamed tables, one per concurrency.
 * @param {Results} results
 */
export function loadTables(results) {
  const label = labelOf(results);
  const sections = [];
  for (const connections of results.meta.options.connections) {
    const straight = loadRun(results, "straight", connections);
    const rows = [];
    for (const target of results.targets) {
      const run = loadRun(results, target.id, connections);
      if (!run) continue;
      const isStraight = target.id === "straight";
      rows.push([
        label(target.id),
        fmtInt(run.rps),
        straight && !isStraight ? fmtRatio(run.rps / straight.rps) : "",
        fmtMs(run.latencyMs?.p50),
        fmtMs(run.latencyMs?.p99),
        straight && !isStraight ? fmtAddedMs(minus(run.latencyMs?.p50, straight.latencyMs?.p50)) : "",
        straight && !isStraight ? fmtAddedMs(minus(run.latencyMs?.p99, straight.latencyMs?.p99)) : "",
        isStraight ? "" : fmtInt(run.cpu.usPerRequestTotal),
        fmtInt(run.cpu.mockUsPerRequest),
        isStraight ? "" : fmtMiB(run.rssTotalBytes),
        run.clientCores === undefined ? "–" : run.clientCores.toFixed(2),
        loadErrorsCell(run),
      ]);
    }
    sections.push(
      `### Non-streamed, ${connections} concurrent connection${connections === 1 ? "" : "s"}\n\n` +
        table(["target", "req/s", "of straight", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "CPU µs/req", "mock µs/req", "RSS MiB", "client cores", "errors"], rows),
    );
  }
  return sections.join("\n\n");
}

/**
 * CPU µs per request of every process at every concurrency, and its RSS after the last run.
 * @param {Results} results
 */
export function perProcessTable(results) {
  const label = labelOf(results);
  const concurrencies = /** @type {number[]} */ (results.meta.options.connections);
  const last = concurrencies.at(-1);
  const rows = [];
  for (const target of results.targets) {
    if (target.roles.length === 0) continue;
    const roles = target.roles.length > 1 ? [...target.roles, "total"] : target.roles;
    for (const role of roles) {
      const cells = concurrencies.map((c) => {
        const run = loadRun(results, target.id, c);
        return fmtInt(role === "total" ? run?.cpu.usPerRequestTotal : run?.cpu.usPerRequest[role]);
      });
      const lastRun = loadRun(results, target.id, last);
      const cores = role === "total" ? sumOrNull(target.roles.map((r) => lastRun?.cpu.cores[r])) : lastRun?.cpu.cores[role];
      const rss = role === "total" ? lastRun?.rssTotalBytes : lastRun?.rssBytes[role];
      rows.push([`${label(target.id)} · ${role}`, ...cells, cores === null || cores === undefined ? "–" : cores.toFixed(2), fmtMiB(rss)]);
    }
  }
  return table(["process", ...concurrencies.map((c) => `c=${c} µs/req`), `cores busy at c=${last}`, "RSS MiB"], rows);
}

/** @param {(number | null | undefined)[]} values */
function sumOrNull(values) {
  return values.every((v) => v !== null && v !== undefined) ? values.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : null;
}

/**
 * CPU per internal hop per side: the mesh's against a plain HTTP JSON hop.
 * Also what the mesh would reach if each of its hops cost exactly a plain
 * hop: all-in-one's CPU per request plus a plain hop per side of each RPC,
 * and the requests/s that CPU would give on as many busy cores as the mesh
 * used in this run — against Portkey's. Under load the mesh is CPU-bound, so
 * that is what it would do; at one connection it is bound by latency, and
 * the figure holds only as far as latency shrinks with CPU (close, on this
 * machine: the mesh is busy for most of each request's time).
 * @param {Results} results
 * @returns {{ connections: number, plainUs: number | null, meshUs: number | null, ratio: number | null, atPlainUs: number | null, atPlainRps: number | null, atPlainOfPortkey: number | null }[]}
 */
export function hopCosts(results) {
  return /** @type {number[]} */ (results.meta.options.connections).map((connections) => {
    const clean = (/** @type {string} */ id) => comparableLoadRun(results, id, connections);
    const total = (/** @type {string} */ id) => clean(id)?.cpu.usPerRequestTotal ?? null;
    const proxy = total("proxy");
    const proxy2 = total("proxy2");
    const aio = total("aio");
    const mesh = total("mesh");
    const plainUs = proxy !== null && proxy2 !== null ? (proxy2 - proxy) / 2 : null;
    const rpcs = meshRpcsOf(results);
    const meshUs = aio !== null && mesh !== null ? (mesh - aio) / (2 * rpcs) : null;
    const atPlainUs = aio !== null && plainUs !== null ? aio + 2 * rpcs * plainUs : null;
    const meshRun = clean("mesh");
    const atPlainRps = meshRun && mesh !== null && atPlainUs !== null && atPlainUs > 0 ? (meshRun.rps * mesh) / atPlainUs : null;
    const portkeyRps = clean("portkey")?.rps ?? null;
    return {
      connections,
      plainUs,
      meshUs,
      ratio: plainUs !== null && meshUs !== null && plainUs > 0 ? meshUs / plainUs : null,
      atPlainUs,
      atPlainRps,
      atPlainOfPortkey: atPlainRps !== null && portkeyRps ? atPlainRps / portkeyRps : null,
    };
  });
}

/** @param {Results} results */
export function hopTable(results) {
  const costs = hopCosts(results);
  if (costs.every((h) => h.plainUs === null && h.meshUs === null)) return "Not measured: needs the targets proxy, proxy2, aio and mesh.";
  const rows = costs.map((h) => [`c=${h.connections}`, fmtInt(h.plainUs), fmtInt(h.meshUs), fmtRatio(h.ratio), fmtInt(h.atPlainUs), fmtInt(h.atPlainRps), fmtRatio(h.atPlainOfPortkey)]);
  return table(
    [
      "concurrency",
      "plain HTTP JSON hop, µs/side",
      "mesh internal RPC, µs/side",
      "mesh ÷ plain",
      "mesh if every hop cost a plain hop, µs/req",
      "→ req/s on the cores the mesh used",
      "→ ÷ Portkey's req/s",
    ],
    rows,
  );
}

/** @param {Results} results */
export function streamTable(results) {
  const label = labelOf(results);
  const straight = streamRun(results, "straight");
  const rows = [];
  for (const target of results.targets) {
    const run = streamRun(results, target.id);
    if (!run) {
      const failure = results.failures.find((f) => f.target === target.id && f.phase.startsWith("streamed"));
      if (failure) rows.push([label(target.id), "–", "–", "–", "–", "–", "–", "–", "–", "–", `⚠ not measured: ${failure.message.split("\n")[0].slice(0, 120)}`]);
      continue;
    }
    const isStraight = target.id === "straight";
    const added = (/** @type {"ttftMs" | "totalMs"} */ key, /** @type {"p50" | "p99"} */ q) => {
      const value = run[key]?.[q];
      const base = straight?.[key]?.[q];
      return isStraight || value === null || value === undefined || base === null || base === undefined ? "" : fmtAddedMs(value - base);
    };
    const failed = run.failed > 0 ? `⚠ ${run.failed} failed` : "0";
    rows.push([
      label(target.id),
      fmtInt(run.ok / run.seconds),
      fmtMs(run.ttftMs?.p50),
      fmtMs(run.ttftMs?.p99),
      added("ttftMs", "p50"),
      added("ttftMs", "p99"),
      fmtMs(run.totalMs?.p50),
      added("totalMs", "p50"),
      added("totalMs", "p99"),
      isStraight ? "" : fmtInt(run.cpu.usPerRequestTotal),
      failed,
    ]);
  }
  return table(["target", "streams/s", "TTFT p50 ms", "TTFT p99 ms", "added TTFT p50", "added TTFT p99", "total p50 ms", "added total p50", "added total p99", "CPU µs/stream", "failed"], rows);
}

/**
 * How the client reached the gateway in a slow-streams run.
 * @param {import("./measure.js").HoldResult} hold
 */
function protocolOf(hold) {
  return hold.protocol === "h2c" ? "HTTP/2 (h2c), 100 streams per connection" : "HTTP/1.1, a connection per stream";
}

/** @param {Results} results */
export function holdTable(results) {
  const label = labelOf(results);
  const rows = results.hold.map((h) => [
    label(h.target),
    protocolOf(h),
    String(h.count),
    String(h.maxOpen ?? "–"),
    `${h.completed}${h.failed > 0 ? ` (⚠ ${h.failed} failed)` : ""}`,
    fmtMiB(h.idleRssTotalBytes),
    fmtMiB(h.peakRssTotalBytes),
    Object.entries(h.peakRssBytes ?? {})
      .map(([role, bytes]) => `${role} ${fmtMiB(bytes)}`)
      .join(", "),
    h.totalMs?.p50 === null || h.totalMs?.p50 === undefined ? "–" : `${(h.totalMs.p50 / 1000).toFixed(1)} / ${((h.totalMs.p99 ?? 0) / 1000).toFixed(1)}`,
    h.seconds === undefined ? "–" : h.seconds.toFixed(1),
    h.clientCores === undefined ? "–" : h.clientCores.toFixed(2),
  ]);
  return table(["target", "client ↔ gateway", "streams", "open at once", "completed", "idle RSS MiB", "peak RSS MiB", "peak per process", "one stream p50 / p99 s", "whole run s", "client cores"], rows);
}

/** @param {Results} results */
export function soakTable(results) {
  const label = labelOf(results);
  const rows = results.soak.map((s) => [
    label(s.target),
    String(s.requests),
    fmtMiB(s.warmRssBytes),
    fmtMiB(s.maxRssBytes),
    fmtMiB(s.finalRssBytes),
    s.growth === null ? "–" : `${(s.growth * 100).toFixed(1)} %`,
    s.errors + s.non2xx > 0 ? `⚠ ${s.errors} errors, ${s.non2xx} non-2xx` : "0",
  ]);
  return table(["target", "requests", "RSS right after warm-up MiB (median)", "max after warm-up MiB", "RSS at the end MiB (median)", "growth", "errors"], rows);
}

/**
 * @typedef {{ goal: string, measured: string, status: "met" | "not met" | "not measured" }} Verdict
 */

/**
 * @param {boolean | null} ok null: could not be measured
 * @returns {Verdict["status"]}
 */
function status(ok) {
  return ok === null ? "not measured" : ok ? "met" : "not met";
}

/**
 * Each target of the performance issue, as a ratio measured in this run.
 * @param {Results} results
 * @returns {Verdict[]}
 */
export function evaluateGoals(results) {
  const concurrencies = /** @type {number[]} */ (results.meta.options.connections);
  /** @type {Verdict[]} */
  const verdicts = [];
  /**
   * A per-concurrency ratio goal: met when met at every concurrency measured.
   * `reference`, for a throughput goal: the same ratio for a minimal Node path
   * (the minimal proxy; for the mesh, two chained: one plain hop where the
   * mesh has three), so a reader sees where a goal asks for more than plain
   * Node HTTP itself gets.
   * @param {string} goal
   * @param {(c: number) => number | null} ratioAt
   * @param {(ratio: number) => boolean} good
   * @param {{ label: string, ratioAt: (c: number) => number | null }} [reference]
   */
  const perConcurrency = (goal, ratioAt, good, reference) => {
    const ratios = concurrencies.map((c) => ({ c, ratio: ratioAt(c), reference: reference?.ratioAt(c) ?? null }));
    const known = ratios.filter((r) => r.ratio !== null && Number.isFinite(r.ratio));
    const referenceNote = (/** @type {number | null} */ value) =>
      reference && value !== null && Number.isFinite(value) ? ` (${reference.label}: ${fmtRatio(value)})` : "";
    verdicts.push({
      goal,
      measured: known.length > 0 ? ratios.map((r) => `c=${r.c}: ${fmtRatio(r.ratio)}${referenceNote(r.reference)}`).join(", ") : "–",
      status: status(known.length === 0 ? null : known.every((r) => good(/** @type {number} */ (r.ratio)))),
    });
  };
  const rps = (/** @type {string} */ id, /** @type {number} */ c) => comparableLoadRun(results, id, c)?.rps ?? null;
  const cpu = (/** @type {string} */ id, /** @type {number} */ c) => loadRun(results, id, c)?.cpu.usPerRequestTotal ?? null;
  const ratio = (/** @type {number | null} */ a, /** @type {number | null} */ b) => (a === null || b === null || b === 0 ? null : a / b);

  perConcurrency("all-in-one req/s ≥ 5× Portkey's, same concurrency", (c) => ratio(rps("aio", c), rps("portkey", c)), (r) => r >= 5, {
    label: "minimal Node proxy",
    ratioAt: (c) => ratio(rps("proxy", c), rps("portkey", c)),
  });
  perConcurrency("all-in-one CPU/request ≤ 2× the minimal Node proxy's", (c) => ratio(cpu("aio", c), cpu("proxy", c)), (r) => r <= 2);
  {
    const aio = loadRun(results, "aio", 1);
    const straight = loadRun(results, "straight", 1);
    const added = aio && straight ? minus(aio.latencyMs?.p50, straight.latencyMs?.p50) : null;
    const clean = aio !== undefined && !loadRunFlagged(aio);
    verdicts.push({
      goal: "all-in-one added p50 at c=1 ≤ 0.5 ms",
      measured: added === null ? "–" : `${fmtAddedMs(added)} ms${clean ? "" : " (⚠ errors in that run)"}`,
      status: status(added === null ? null : clean && added <= 0.5),
    });
  }
  perConcurrency("mesh (5 processes) req/s ≥ 2× Portkey's", (c) => ratio(rps("mesh", c), rps("portkey", c)), (r) => r >= 2, {
    label: "minimal proxy ×2, one plain hop",
    ratioAt: (c) => ratio(rps("proxy2", c), rps("portkey", c)),
  });
  {
    const hops = hopCosts(results);
    const known = hops.filter((h) => h.ratio !== null);
    verdicts.push({
      goal: "mesh CPU per internal hop ≤ 2× a plain HTTP JSON hop, per side",
      measured: known.length > 0 ? hops.map((h) => `c=${h.connections}: ${fmtInt(h.meshUs)} vs ${fmtInt(h.plainUs)} µs = ${fmtRatio(h.ratio)}`).join("; ") : "–",
      status: status(known.length === 0 ? null : known.every((h) => /** @type {number} */ (h.ratio) <= 2)),
    });
  }
  for (const id of ["aio", "mesh"]) {
    const run = streamRun(results, id);
    const straight = streamRun(results, "straight");
    const added = run && straight && run.failed === 0 && run.ttftMs?.p50 !== null && straight.ttftMs?.p50 !== null ? run.ttftMs.p50 - straight.ttftMs.p50 : null;
    verdicts.push({
      goal: `${id === "aio" ? "all-in-one" : "mesh"}: streaming added TTFT p50 ≤ 1 ms`,
      measured: added === null ? (run ? `⚠ ${run.failed} failed streams` : "–") : `${fmtAddedMs(added)} ms`,
      status: status(added === null ? (run ? false : null) : added <= 1),
    });
  }
  {
    // One verdict per deployment: all-in-one and the mesh are different promises to operators.
    const ids = [...new Set(results.hold.map((h) => h.target))];
    if (ids.length === 0) ids.push("aio", "mesh");
    for (const id of ids) {
      const holds = results.hold.filter((h) => h.target === id);
      const maxCount = Math.max(0, ...holds.map((h) => h.count));
      verdicts.push({
        goal: `${id === "aio" ? "all-in-one" : id === "mesh" ? "mesh" : id}: 10,000 concurrent slow streams ≤ 1 GiB RSS total, all completing`,
        measured:
          holds.length === 0
            ? "not run (`npm run bench -- --streams 10000`)"
            : holds.map((h) => `over ${protocolOf(h)}: ${h.completed}/${h.count} completed, peak ${fmtMiB(h.peakRssTotalBytes)} MiB${beyondOpenFiles(results, h)}`).join("; "),
        status:
          holds.length === 0 || maxCount < 10_000
            ? "not measured"
            : status(holds.every((h) => h.completed === h.count && h.peakRssTotalBytes !== null && h.peakRssTotalBytes <= 1024 * MiB)),
      });
    }
  }
  {
    const soaks = results.soak;
    const enough = soaks.length > 0 && soaks.every((s) => s.requests >= 1_000_000);
    verdicts.push({
      goal: "RSS flat (≤ 10 % growth after warm-up) over 1M requests",
      measured:
        soaks.length === 0
          ? "not run (`npm run bench -- --soak 1000000`)"
          : soaks.map((s) => `${s.target}: ${s.growth === null ? "–" : `${(s.growth * 100).toFixed(1)} %`} over ${s.requests} requests`).join("; "),
      status: !enough ? "not measured" : status(soaks.every((s) => s.growth !== null && s.growth <= 0.1 && s.errors + s.non2xx === 0)),
    });
  }
  return verdicts;
}

/**
 * A remark for a slow-streams run that needs more sockets in one process
 * than this machine lets a process open: all-in-one over HTTP/1.1 holds the
 * client's socket and the upstream's for every stream, so its last streams
 * fail for want of a file descriptor, whatever the gateway does.
 * @param {Results} results
 * @param {HoldResult} hold
 */
function beyondOpenFiles(results, hold) {
  const limit = results.meta.openFilesLimit;
  // The process's own files (listening sockets, epoll, pipes, logs): a few dozen.
  const ownFiles = 64;
  if (!limit || hold.target !== "aio" || hold.protocol === "h2c" || 2 * hold.count + ownFiles < limit) return "";
  return ` (2 sockets per stream: ${(2 * hold.count).toLocaleString("en-US")} plus the process's own files, against this machine's hard limit of ${limit.toLocaleString("en-US")} open files per process)`;
}

/** @param {Results} results */
export function goalsTable(results) {
  const icon = { met: "✅ met", "not met": "❌ not met", "not measured": "– not measured" };
  return table(
    ["target", "measured in this run", "status"],
    evaluateGoals(results).map((v) => [v.goal, v.measured, icon[v.status]]),
    { text: true },
  );
}

/**
 * Every error seen: failed targets, runs with errors, failed streams.
 * @param {Results} results
 * @returns {string[]}
 */
export function problems(results) {
  const label = labelOf(results);
  const logOf = (/** @type {{ serverLog?: string }} */ run) => (run.serverLog ? ` — its log: ${run.serverLog}` : "");
  const lines = results.failures.map((f) => `- ${label(f.target)} (${f.phase}): ${f.message.split("\n")[0]}`);
  for (const run of results.load) {
    if (!loadRunFlagged(run)) continue;
    lines.push(`- ${label(run.target)}, non-streamed c=${run.connections}: ${loadErrorsCell(run)}; status codes ${JSON.stringify(run.statusCounts)}${logOf(run)}`);
  }
  for (const run of results.streams) {
    if (run.failed > 0) lines.push(`- ${label(run.target)}, streamed: ${run.failed} failed: ${JSON.stringify(run.errors)}${logOf(run)}`);
  }
  for (const hold of results.hold) {
    if (hold.failed > 0 || hold.completed !== hold.count) lines.push(`- ${label(hold.target)}, ${hold.count} slow streams over ${protocolOf(hold)}: ${hold.completed} completed, ${hold.failed} failed: ${JSON.stringify(hold.errors)}${logOf(hold)}`);
  }
  for (const s of results.soak) {
    if (s.errors + s.non2xx > 0) lines.push(`- ${label(s.target)}, soak: ${s.errors} errors, ${s.non2xx} non-2xx${logOf(s)}`);
  }
  return lines;
}

/**
 * The results part: what is printed to stdout and embedded in the docs page.
 * @param {Results} results
 * @param {{ chart?: string, header?: boolean }} [options] chart: relative path of the SVG to embed; header: the one-line run summary (default true)
 */
export function resultsMarkdown(results, options = {}) {
  const parts = [];
  const m = results.meta;
  if (options.header !== false) parts.push(
    `Run ${m.date} · commit ${m.commit}${m.dirty ? " (with uncommitted changes)" : ""} · Node ${m.node} · ${m.cores} × ${m.cpuModel} · ` +
      `${m.options.rounds} round${m.options.rounds === 1 ? "" : "s"} × ${m.options.durationS} s measured per target and concurrency${m.options.rounds > 1 ? " (median of rounds)" : ""}` +
      `${m.options.quick ? " (**--quick**: short runs, rough figures)" : ""} · ` +
      `cores: ${m.coreSplit}`,
  );
  parts.push("## Targets, as ratios measured in this run\n\n" + goalsTable(results));
  if (options.chart) parts.push(`![requests/s per target and concurrency](${options.chart})`);
  parts.push("## Non-streamed\n\n" + loadTables(results));
  parts.push("### CPU per request, per process\n\n" + perProcessTable(results));
  parts.push(
    "### Cost of one internal hop\n\n" +
      `Plain HTTP JSON hop: (minimal proxy ×2 − minimal proxy) ÷ 2 sides. Mesh: (mesh − all-in-one) ÷ (2 sides × ${meshRpcsOf(results)} RPCs per request: ` +
      (meshRpcsOf(results) === 3
        ? "gateway→router Chat, router→policy Admit, router→adapter Chat; settlements go to policy in batches, their share counted in). "
        : "gateway→router Chat, router→adapter Chat; the router admits on leases from policy and settles in batches, the share of those calls counted in). ") +
      "The last three columns are arithmetic on this run's figures, not a measurement: all-in-one's CPU per request plus one plain hop per side of each RPC, " +
      "and the requests/s that would give at the mesh's own CPU use — how far the mesh's targets are from what plain HTTP hops alone would allow. " +
      "Under load the mesh is bound by CPU; at one connection it is bound by latency, and there the figure is only a rough estimate.\n\n" +
      hopTable(results),
  );
  parts.push(
    `## Streamed\n\n${m.options.streamConcurrency} concurrent streams, ${m.mockProfiles.streamChunks} tokens ${m.mockProfiles.streamDelayMs} ms apart (first token at once); ` +
      "TTFT = request sent → first `data:` event with content; total = until the response ends after `data: [DONE]`.\n\n" +
      streamTable(results),
  );
  if (results.hold.length > 0) {
    parts.push(
      `## ${results.hold[0].count} concurrent slow streams\n\n${m.mockProfiles.slowChunks} tokens ${m.mockProfiles.slowDelayMs} ms apart each ` +
        `(${((m.mockProfiles.slowChunks * m.mockProfiles.slowDelayMs) / 1000).toFixed(0)} s per stream straight from the mock), opened at ${m.holdRampPerSecond}/s, each target in fresh processes; ` +
        "RSS of the target's processes (mock and client excluded), sampled every 250 ms." +
        (m.openFilesLimit
          ? ` Open files per process are limited to ${m.openFilesLimit.toLocaleString("en-US")} on this machine (hard limit); over HTTP/1.1 every stream holds two sockets in all-in-one (the client's and the upstream's).`
          : "") +
        "\n\n" +
        holdTable(results),
    );
  }
  if (results.soak.length > 0) parts.push(
      "## Soak\n\nEach target in fresh processes, the requests sent in 20 slices; RSS of its processes sampled every 250 ms while they run. " +
        "Warm-up = the first 10 % of the requests. Growth compares the median RSS over the 10 % of requests right after warm-up with the median over the last 10 %: " +
        "a leak raises the level, while the garbage collector's sawtooth (±10 % from one sample to the next) would decide a comparison of two single samples.\n\n" +
        soakTable(results),
    );
  const seen = problems(results);
  parts.push(`## Problems seen\n\n${seen.length > 0 ? seen.join("\n") : "None: every request of every run answered 2xx, every stream completed."}`);
  return parts.join("\n\n") + "\n";
}

/**
 * The whole docs/performance.md page.
 * @param {Results} results
 */
export function performancePage(results) {
  const m = results.meta;
  const heap = heapText(m);
  const targetLines = results.targets.map((t) => `- **${t.label}** (\`${t.id}\`): ${describeTarget(t.id)}${t.note ? ` — ${t.note}` : ""}`);
  return `# Performance

<!-- Generated by \`npm run bench\` (bench/run.js). Do not edit: run the command again. -->

How much LLM Mesh adds to a request, measured against the same request sent
straight to the upstream and through a minimal Node proxy, **in the same run
on the same machine**. The machine is shared and noisy, so compare the rows of
one run with each other (the ratios), not the absolute figures of two runs.

## How it was run

- Command: \`${m.command}\` — ${m.date}, ${m.elapsedS.toFixed(0)} s
- Commit ${m.commit}${m.dirty ? " with uncommitted changes" : ""}; Node ${m.node}; ${m.platform}; ${m.cores} × ${m.cpuModel}
- Cores: ${m.coreSplit}${heap ? `\n- LLM Mesh's processes: ${heap}` : ""}
- Load: autocannon ${m.autocannonVersion} (programmatic API) in its own process; HTTP/1.1 keep-alive, one request at a time per
  connection; ${m.options.connections.join(", ")} connections. ${m.options.prewarmS ? `Each target first gets ${m.options.prewarmS} s of unmeasured load (16 connections), so that its JIT has compiled the hot path whatever its speed${m.streamPrewarm ? ", and as many seconds of unmeasured streams (16 at once) before the streamed runs" : ""}.` : ""} Per concurrency, ${m.options.rounds} round${m.options.rounds === 1 ? "" : "s"} in which the targets
  take turns (rotated each round): ${m.options.warmupS} s warm-up before a target's first round, ${m.laterRoundWarmupMs / 1000} s before the
  others, then ${m.options.durationS} s measured. Every figure is the median of the rounds (errors are summed), so a burst of
  noise from the shared machine hits one round rather than one target.
  Latency is each response's own time (float ms), not autocannon's 1 ms histogram.
- Request: \`POST /v1/chat/completions\`, ${m.requestBytes} bytes of JSON (system + user message), the same bytes to every target;
  answer: a ${m.responseBytes}-byte \`chat.completion\` with usage.
- Upstream: bench/mock-upstream.js, its own process, precomputed answers (its CPU per request is in the tables, the same for everyone).
- CPU: user + system time of each process (all threads) from \`/proc/<pid>/stat\`, read when the measured window opens and closes,
  divided by the requests completed in it. RSS: \`VmRSS\` from \`/proc/<pid>/status\` after each run.
- Targets:
${targetLines.map((line) => `  ${line}`).join("\n")}
- Raw figures: bench/results/${m.resultsFile} (not committed).

Reading the tables: *added* = this target minus straight-to-mock at the same
concurrency, in this run. CPU µs/request is the target's own processes only
(the mock's share is its own column); at 1 connection it includes the cost of
waking up for every request, so it is higher than under load. "client cores"
is how busy the load generator was (it is pinned to one core: near 1.0 it may
have limited the figure, which is expected for straight-to-mock only). A row
marked ⚠ had errors or non-2xx answers: its figures are not comparable.

${resultsMarkdown(results, { chart: "performance.svg", header: false })}
## Reproduce

\`\`\`sh
${m.command}${" ".repeat(Math.max(1, 36 - m.command.length))}# this page: ${(m.elapsedS / 60).toFixed(1)} min
npm run bench                       # the default (no competitor, slow streams or soak): ≈ 2.5 min on 2 cores
npm run bench -- --quick            # smoke test, under a minute
npm run bench -- --portkey          # also Portkey's gateway (npm install on demand into bench/.cache)
npm run bench -- --streams 10000    # 10,000 concurrent slow streams (all-in-one and mesh)
npm run bench -- --soak 1000000     # RSS over 1M requests (all-in-one)
npm run bench -- --from-results bench/results/<time>.json   # re-render this page from a past run
npm run bench -- --help             # every flag
\`\`\`
`;
}

/** @param {string} id */
function describeTarget(id) {
  switch (id) {
    case "straight":
      return "the client talks to the mock upstream directly: the baseline";
    case "proxy":
      return "bench/minimal-proxy.js: parse JSON, stringify, forward with an undici keep-alive pool, stream the answer back — the floor for a Node gateway";
    case "proxy2":
      return "two minimal proxies chained: the second one's cost is one plain HTTP JSON hop";
    case "aio":
      return "`node packages/launcher/dist/main.js` (`npm start`): the five services in one process";
    case "mesh":
      return "`node services/{gateway,router,policy,adapter-openai,adapter-custom}/dist/main.js`: five processes talking gRPC/Connect";
    case "portkey":
      return "Portkey's open-source gateway from npm, provider `openai` with `x-portkey-custom-host` pointing at the mock";
    default:
      return "";
  }
}
