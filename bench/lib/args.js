// Command-line flags of `npm run bench -- [flags]`.

export const USAGE = `Usage: npm run bench -- [flags]

Measures, side by side in one run and against its own mock upstream: straight
to the mock, a minimal Node proxy (and two chained, for the cost of one plain
HTTP JSON hop), LLM Mesh all-in-one, LLM Mesh as five processes, and with
--portkey Portkey's gateway. Writes bench/results/<time>.json and regenerates
docs/performance.md and docs/performance.svg.

  --quick                 one round, short runs (smoke test)
  --rounds N              rounds per target and concurrency (default 3): the
                          targets take turns, each figure is the median of the
                          rounds, so a burst of noise hits one round, not one target
  --duration S            measured seconds per round, streamed or not (default 1.5)
  --prewarm S             unmeasured load (16 connections) on every target right
                          after it starts (default 3; 0 with --quick), so that
                          every target's JIT has compiled its hot path before
                          the first round, however fast or slow the target is;
                          as long again of unmeasured streams (16 at once)
                          before the streamed runs, for the streamed path
  --warmup S              warm-up seconds before a target's first round (default 1;
                          later rounds warm up for 0.3 s on new connections)
  --connections 1,16,64   concurrencies of the non-streamed runs
  --targets LIST          subset of straight,proxy,proxy2,aio,mesh,portkey
  --stream-concurrency N  concurrent streams in the streamed latency runs (default 4)
  --portkey               also measure Portkey's gateway (installed on demand
                          from npm into bench/.cache with npm install --no-save)
  --portkey-version V     its npm version (default 1.15.2)
  --streams N             N concurrent slow streams against --streams-targets
                          (default aio,mesh): all must complete; peak RSS reported
  --streams-targets LIST
  --streams-protocols LIST  h1 (a connection per stream, default) and/or h2c
                          (cleartext HTTP/2, 100 streams per connection) between
                          the client and the gateway, each measured on its own
  --soak N                N requests against --soak-targets (default aio), RSS
                          sampled: growth after warm-up (first 10 %) reported
  --soak-targets LIST
  --pin MODE              loader (default): load generator alone on the last core,
                          servers unpinned; split: load generator and mock on the
                          last core, everything measured on the others; none
  --no-docs               do not rewrite docs/performance.md and .svg
  --from-results FILE     measure nothing: re-render the summary and the docs
                          from a past run's bench/results/<time>.json
  --help
`;

/** A bad command line: reported as its message alone, with no stack. */
export class UsageError extends Error {}

/** Every target the harness knows, in report order. */
export const ALL_TARGETS = ["straight", "proxy", "proxy2", "aio", "mesh", "portkey"];

/**
 * @typedef {object} Options
 * @property {boolean} quick
 * @property {number} durationS
 * @property {number} warmupS
 * @property {number} prewarmS
 * @property {number} rounds
 * @property {number[]} connections
 * @property {string[]} targets
 * @property {number} streamConcurrency
 * @property {number} streamDurationS
 * @property {boolean} portkey
 * @property {string} portkeyVersion
 * @property {number} streams
 * @property {string[]} streamsTargets
 * @property {("h1" | "h2c")[]} streamsProtocols
 * @property {number} soak
 * @property {string[]} soakTargets
 * @property {"loader" | "split" | "none"} pin
 * @property {boolean} docs
 * @property {string | undefined} fromResults
 * @property {boolean} help
 */

/**
 * @param {string} flag
 * @param {string | undefined} value
 */
function positive(flag, value) {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new UsageError(`${flag} needs a positive number, got ${JSON.stringify(value)}`);
  return number;
}

/**
 * @param {string} flag
 * @param {string} value
 */
function nonNegative(flag, value) {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new UsageError(`${flag} needs a number ≥ 0, got ${JSON.stringify(value)}`);
  return number;
}

/**
 * @param {string} flag
 * @param {string | undefined} value
 * @param {readonly string[]} allowed
 */
function list(flag, value, allowed) {
  const items = (value ?? "").split(",").map((item) => item.trim()).filter(Boolean);
  const unknown = items.filter((item) => !allowed.includes(item));
  if (items.length === 0 || unknown.length > 0) throw new UsageError(`${flag}: expected a comma-separated subset of ${allowed.join(",")}, got ${JSON.stringify(value)}`);
  return items;
}

/**
 * Parses the flags; throws with a clear message on anything unknown.
 * @param {string[]} argv
 * @returns {Options}
 */
export function parseArgs(argv) {
  const quick = argv.includes("--quick");
  /** @type {Options} */
  const options = {
    quick,
    durationS: 1.5,
    warmupS: quick ? 0.5 : 1,
    prewarmS: quick ? 0 : 3,
    rounds: quick ? 1 : 3,
    connections: [1, 16, 64],
    targets: ["straight", "proxy", "proxy2", "aio", "mesh"],
    streamConcurrency: 4,
    streamDurationS: 0,
    portkey: false,
    portkeyVersion: "1.15.2",
    streams: 0,
    streamsTargets: ["aio", "mesh"],
    streamsProtocols: ["h1"],
    soak: 0,
    soakTargets: ["aio"],
    pin: "loader",
    docs: true,
    fromResults: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--quick":
        break;
      case "--duration":
        options.durationS = positive(flag, value());
        break;
      case "--warmup":
        options.warmupS = positive(flag, value());
        break;
      case "--prewarm":
        options.prewarmS = nonNegative(flag, value());
        break;
      case "--rounds":
        options.rounds = Math.round(positive(flag, value()));
        break;
      case "--connections":
        options.connections = value()
          .split(",")
          .map((c) => Math.round(positive(flag, c)));
        break;
      case "--targets":
        options.targets = list(flag, value(), ALL_TARGETS);
        break;
      case "--stream-concurrency":
        options.streamConcurrency = Math.round(positive(flag, value()));
        break;
      case "--portkey":
        options.portkey = true;
        break;
      case "--portkey-version":
        options.portkeyVersion = value();
        options.portkey = true;
        break;
      case "--streams":
        options.streams = Math.round(positive(flag, value()));
        break;
      case "--streams-targets":
        options.streamsTargets = list(flag, value(), ALL_TARGETS);
        break;
      case "--streams-protocols":
        options.streamsProtocols = /** @type {("h1" | "h2c")[]} */ (list(flag, value(), ["h1", "h2c"]));
        break;
      case "--soak":
        options.soak = Math.round(positive(flag, value()));
        break;
      case "--soak-targets":
        options.soakTargets = list(flag, value(), ALL_TARGETS);
        break;
      case "--pin": {
        const mode = value();
        if (mode !== "loader" && mode !== "split" && mode !== "none") throw new UsageError(`--pin: expected loader, split or none, got ${JSON.stringify(mode)}`);
        options.pin = mode;
        break;
      }
      case "--no-docs":
        options.docs = false;
        break;
      case "--from-results":
        options.fromResults = value();
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown flag ${JSON.stringify(flag)}\n\n${USAGE}`);
    }
  }
  // Streamed runs are measured as long as non-streamed ones.
  options.streamDurationS = options.durationS;
  if (options.portkey && !options.targets.includes("portkey")) options.targets.push("portkey");
  if (options.targets.includes("portkey")) options.portkey = true;
  // The baseline every figure is compared with is always measured; report order is fixed.
  options.targets = ALL_TARGETS.filter((t) => t === "straight" || options.targets.includes(t));
  return options;
}
