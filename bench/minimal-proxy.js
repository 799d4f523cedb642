// The practical floor for a Node gateway, run as its own process: parse the
// JSON body, serialise it again, forward it with a keep-alive undici pool,
// and stream the answer back unchanged. No auth, routing or translation —
// whatever LLM Mesh costs above this is what its features cost.
//
// Chained twice (proxy → proxy → upstream) it is also the "plain HTTP JSON
// hop" the report compares one internal hop of the mesh against.
//
// Environment: UPSTREAM_URL (origin of the next hop, e.g. http://127.0.0.1:9000),
// PORT (0 = any free port), HOST (127.0.0.1). Prints `listening on <url>` when
// ready; with BENCH_EXIT_WITH_STDIN=1, exits when its stdin closes.
/* global AbortController -- a Node global with no module export */
import { Buffer } from "node:buffer";
import http from "node:http";
import process from "node:process";
import { pipeline } from "node:stream";
import { URL } from "node:url";
import { Pool } from "undici";
import { serveForBench } from "./lib/serve.js";

const upstreamUrl = process.env.UPSTREAM_URL;
if (!upstreamUrl) {
  process.stderr.write("minimal-proxy: UPSTREAM_URL is required\n");
  process.exit(2);
}

// No connection cap: every concurrent client request gets its own upstream
// socket, as a gateway in front of slow streams needs.
const pool = new Pool(new URL(upstreamUrl).origin, { keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {string} message
 */
function fail(res, status, message) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { message, type: "proxy_error", param: null, code: null } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Forwards one request (its body already re-serialised) and pipes the answer back.
 * @param {http.IncomingMessage} req
 * @param {http.ServerResponse} res
 * @param {string | undefined} body
 */
async function forward(req, res, body) {
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  try {
    const answer = await pool.request({
      method: /** @type {"GET" | "POST"} */ (req.method),
      path: req.url ?? "/",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body,
      signal: abort.signal,
    });
    const headers = { "content-type": String(answer.headers["content-type"] ?? "application/json") };
    res.writeHead(answer.statusCode, headers);
    pipeline(answer.body, res, () => undefined);
  } catch (err) {
    if (!abort.signal.aborted) fail(res, 502, `upstream failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    req.resume();
    void forward(req, res, undefined);
    return;
  }
  /** @type {Buffer[]} */
  const parts = [];
  req.on("data", (part) => parts.push(part));
  req.on("end", () => {
    let body;
    try {
      body = JSON.stringify(JSON.parse(Buffer.concat(parts).toString()));
    } catch {
      fail(res, 400, "request body is not valid JSON");
      return;
    }
    void forward(req, res, body);
  });
});

// Keep-alive sockets stay open between runs; no request is timed out here.
serveForBench(server, "minimal proxy");
