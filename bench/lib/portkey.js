// The competitor, on demand (--portkey): Portkey's open-source gateway,
// installed from npm into bench/.cache (never into the repo's dependencies)
// and sent the same requests through its OpenAI provider with a custom host.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { startChild } from "./children.js";
import { REPO, logTailOf } from "./targets.js";

const CACHE = join(REPO, "bench", ".cache", "portkey");
const PACKAGE = "@portkey-ai/gateway";
const INSTALL_TIMEOUT_MS = 300_000;
/** Lets its streamed answers work on Node (see the file). */
const STREAM_HEADERS_FIX = join(REPO, "bench", "lib", "portkey-stream-headers.js");

/**
 * Installs the gateway into bench/.cache/portkey unless that version is already there.
 * @param {string} version an npm version or tag
 * @param {(message: string) => void} log
 * @returns {Promise<{ entry: string, version: string }>}
 */
export async function ensurePortkey(version, log) {
  const dir = join(CACHE, version.replace(/[^A-Za-z0-9._-]/g, "_"));
  const packageDir = join(dir, "node_modules", ...PACKAGE.split("/"));
  const entry = join(packageDir, "build", "start-server.js");
  if (!existsSync(entry)) {
    await mkdir(dir, { recursive: true });
    log(`installing ${PACKAGE}@${version} into ${dir} ...`);
    // --ignore-scripts: its postinstall (patch-package, husky) is for its own development.
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const result = spawnSync(npm, ["install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", dir, `${PACKAGE}@${version}`], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: INSTALL_TIMEOUT_MS,
      encoding: "utf8",
    });
    if (result.status !== 0 || !existsSync(entry)) {
      throw new Error(`npm install ${PACKAGE}@${version} failed: ${result.error?.message ?? ""}\n${result.stderr.slice(-2000)}`);
    }
  }
  const installed = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;
  return { entry, version: String(installed) };
}

/** @returns {Promise<number>} a TCP port that was free a moment ago */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the installed gateway on a free port and describes it as a target.
 * @param {{ entry: string, version: string }} install
 * @param {string} mockUrl
 * @param {string | undefined} cpus
 * @returns {Promise<import("./targets.js").Target>}
 */
export async function startPortkey(install, mockUrl, cpus) {
  const port = await freePort();
  const args = ["--import", pathToFileURL(STREAM_HEADERS_FIX).href, install.entry, `--port=${port}`, "--headless"];
  const child = startChild("portkey", process.execPath, args, {
    cwd: join(install.entry, "..", ".."),
    env: { ...process.env, NODE_ENV: "production" },
    cpus,
  });
  await child.waitFor(/Ready for connections|running at/, 30_000);
  return {
    id: "portkey",
    label: `Portkey gateway ${install.version}`,
    url: `http://127.0.0.1:${port}`,
    // Its documented headers for an OpenAI-compatible upstream at a custom address.
    headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": `${mockUrl}/v1`, authorization: "Bearer dummy" },
    procs: [{ role: "portkey", pid: child.pid }],
    note: `${PACKAGE}@${install.version}, node build/start-server.js --headless, NODE_ENV=production, with bench/lib/portkey-stream-headers.js preloaded (without it every streamed request answers 500 on Node: Portkey-AI/gateway#1389)`,
    stop: () => child.stop(),
    crashes: () => [child.crashed()].filter((c) => c !== undefined),
    logTail: () => logTailOf("portkey", child.output()),
  };
}
