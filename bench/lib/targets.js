// The systems under test. Each target is a base URL the load goes to, the
// headers it needs, and the processes whose CPU and memory are its cost.
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";
import { startChild } from "./children.js";
import { MODEL, SLOW_MODEL, STREAM_MODEL } from "./payload.js";

/** The repository root. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url));
const LISTENING = /listening on (http:\/\/[^\s/]+)/;
const START_TIMEOUT_MS = 30_000;

/**
 * @typedef {import("./proc-stats.js").Proc} Proc
 * @typedef {object} Target
 * @property {string} id short key: straight, proxy, proxy2, aio, mesh, portkey
 * @property {string} label name in the report
 * @property {string} url origin the client sends to (http://127.0.0.1:PORT)
 * @property {Record<string, string>} headers extra request headers
 * @property {Proc[]} procs the processes that are this target's cost (the mock is not: it is everyone's)
 * @property {string} [note] e.g. the competitor's version
 * @property {() => Promise<void>} stop stops the target's processes (the mock is not its own)
 * @property {() => string[]} crashes why any of its processes exited unasked (with the end of its output)
 * @property {() => string} logTail the last lines each of its processes printed (warnings and errors)
 */

/**
 * @typedef {object} StartedChild
 * @property {string} url
 * @property {Proc} proc
 * @property {import("./children.js").Child} child
 */

/**
 * Starts `node <entry>` and waits for its "listening on <url>" line.
 * @param {string} role
 * @param {string} entry path from the repo root
 * @param {NodeJS.ProcessEnv} env
 * @param {string | undefined} cpus
 * @returns {Promise<StartedChild>}
 */
async function startNode(role, entry, env, cpus) {
  const child = startChild(role, process.execPath, [join(REPO, entry)], { cwd: REPO, env: { ...process.env, ...env }, cpus });
  const match = await child.waitFor(LISTENING, START_TIMEOUT_MS);
  return { url: match[1], proc: { role, pid: child.pid }, child };
}

/**
 * Stream profiles of the mock, per upstream model.
 * @typedef {{ streamChunks: number, streamDelayMs: number, slowChunks: number, slowDelayMs: number }} MockProfiles
 */

/**
 * The mock upstream, in its own process.
 * @param {MockProfiles} profiles
 * @param {string | undefined} cpus
 * @returns {Promise<StartedChild>}
 */
export function startMock(profiles, cpus) {
  const env = {
    MOCK_STREAM_PROFILES: JSON.stringify({
      [STREAM_MODEL]: { chunks: profiles.streamChunks, delayMs: profiles.streamDelayMs },
      [SLOW_MODEL]: { chunks: profiles.slowChunks, delayMs: profiles.slowDelayMs },
    }),
    PORT: "0",
    HOST: "127.0.0.1",
    BENCH_EXIT_WITH_STDIN: "1",
  };
  return startNode("mock", "bench/mock-upstream.js", env, cpus);
}

/**
 * The last lines a process printed after its start-up banner, shortened.
 * @param {string} role
 * @param {string} output
 */
export function logTailOf(role, output) {
  const lines = output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !/listening on|^config |^instance |^OpenAI API|^models:|^gRPC\/Connect|AI Gateway|Ready for connections|^http:\/\/localhost/.test(line));
  return lines.length === 0 ? "" : `${role}: ${lines.slice(-3).join(" ⏎ ").slice(-400)}`;
}

/**
 * The lifecycle part of a target made of these processes.
 * @param {StartedChild[]} started
 * @returns {{ stop: () => Promise<void>, crashes: () => string[], logTail: () => string }}
 */
function lifecycle(started) {
  return {
    logTail: () => started.map((s) => logTailOf(s.proc.role, s.child.output())).filter(Boolean).join(" · "),
    stop: async () => {
      await Promise.all(started.map((s) => s.child.stop()));
    },
    crashes: () => started.map((s) => s.child.crashed()).filter((c) => c !== undefined),
  };
}

/**
 * The mock itself, no hop in between: the baseline every other row is compared with.
 * @param {StartedChild} mock
 * @returns {Target}
 */
export function straightTarget(mock) {
  return { id: "straight", label: "straight to mock", url: mock.url, headers: {}, procs: [], stop: async () => undefined, crashes: lifecycle([mock]).crashes, logTail: () => "" };
}

/**
 * The minimal Node proxy, once (`proxy`) or chained twice (`proxy2`, for the cost of one plain HTTP JSON hop).
 * @param {StartedChild} mock
 * @param {1 | 2} hops
 * @param {string | undefined} cpus
 * @returns {Promise<Target>}
 */
export async function startMinimalProxy(mock, hops, cpus) {
  const entry = "bench/minimal-proxy.js";
  if (hops === 1) {
    const proxy = await startNode("proxy", entry, { UPSTREAM_URL: mock.url, PORT: "0", HOST: "127.0.0.1", BENCH_EXIT_WITH_STDIN: "1" }, cpus);
    return { id: "proxy", label: "minimal Node proxy", url: proxy.url, headers: {}, procs: [proxy.proc], ...lifecycle([proxy]) };
  }
  const inner = await startNode("proxy-b", entry, { UPSTREAM_URL: mock.url, PORT: "0", HOST: "127.0.0.1", BENCH_EXIT_WITH_STDIN: "1" }, cpus);
  const outer = await startNode("proxy-a", entry, { UPSTREAM_URL: inner.url, PORT: "0", HOST: "127.0.0.1", BENCH_EXIT_WITH_STDIN: "1" }, cpus);
  return { id: "proxy2", label: "minimal proxy ×2 (chained)", url: outer.url, headers: {}, procs: [outer.proc, inner.proc], ...lifecycle([outer, inner]) };
}

/**
 * Writes the LLM Mesh config the benchmark serves: one OpenAI-compatible
 * provider (the mock, no key) and the bench models routed to it under their
 * own names, so every target receives byte-identical requests.
 * @param {string} mockUrl
 * @returns {Promise<{ path: string, remove: () => Promise<void>, removeSync: () => void }>}
 */
export async function writeMeshConfig(mockUrl) {
  const dir = await mkdtemp(join(tmpdir(), "llmmesh-bench-"));
  const path = join(dir, "bench.yaml");
  const models = [MODEL, STREAM_MODEL, SLOW_MODEL].map((name) => `  - name: ${name}\n    targets: [{ provider: up, model: ${name} }]`).join("\n");
  await writeFile(path, `# Written by bench/run.js for one run.\nproviders:\n  - { name: up, adapter: openai, base_url: "${mockUrl}/v1" }\nmodels:\n${models}\n`);
  return { path, remove: () => rm(dir, { recursive: true, force: true }), removeSync: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Environment every LLM Mesh process gets: the bench config file, and no
 * NATS_URL (a developer's shell may export one: the bench must not follow,
 * nor write to, a shared config bucket).
 * @param {string} configPath
 * @returns {NodeJS.ProcessEnv}
 */
function meshEnv(configPath) {
  return { LLMMESH_CONFIG: configPath, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: process.env.BENCH_LOG_LEVEL || "warn", LLMMESH_DRAIN_MS: "1000", NATS_URL: "" };
}

/**
 * LLM Mesh all-in-one: `npm start`'s process (packages/launcher/dist/main.js).
 * @param {string} configPath
 * @param {string | undefined} cpus
 * @returns {Promise<Target>}
 */
export async function startAllInOne(configPath, cpus) {
  const aio = await startNode("llmmesh", "packages/launcher/dist/main.js", meshEnv(configPath), cpus);
  return { id: "aio", label: "LLM Mesh all-in-one", url: aio.url, headers: {}, procs: [aio.proc], ...lifecycle([aio]) };
}

/**
 * LLM Mesh as five processes wired by environment, leaves first (as test/support/mesh.ts does).
 * @param {string} configPath
 * @param {string | undefined} cpus
 * @returns {Promise<Target>}
 */
export async function startMesh(configPath, cpus) {
  const env = meshEnv(configPath);
  const service = (/** @type {string} */ name, extra = {}) => startNode(name, `services/${name}/dist/main.js`, { ...env, ...extra }, cpus);
  const [policy, adapterOpenAI, adapterCustom] = await Promise.all([service("policy"), service("adapter-openai"), service("adapter-custom")]);
  const router = await service("router", {
    LLMMESH_POLICY_URL: policy.url,
    LLMMESH_ADAPTER_OPENAI_URL: adapterOpenAI.url,
    LLMMESH_ADAPTER_CUSTOM_URL: adapterCustom.url,
  });
  const gateway = await service("gateway", { LLMMESH_ROUTER_URL: router.url });
  return {
    id: "mesh",
    label: "LLM Mesh, 5 processes",
    url: gateway.url,
    headers: {},
    procs: [gateway.proc, router.proc, policy.proc, adapterOpenAI.proc, adapterCustom.proc],
    ...lifecycle([gateway, router, policy, adapterOpenAI, adapterCustom]),
  };
}

