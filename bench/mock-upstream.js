// A fast OpenAI-compatible upstream for the benchmark, run as its own process.
//
// Every answer is precomputed bytes, so the mock costs the same few
// microseconds for every target and never becomes what is measured:
//   POST /v1/chat/completions  non-streamed: one chat.completion with usage
//                              streamed (`"stream":true`): SSE chunks, then a
//                              usage chunk when stream_options.include_usage,
//                              then `data: [DONE]`
//   GET  /v1/models            the model list
// Streams follow a profile per model name (chunk count and the pause between
// chunks), given as JSON in MOCK_STREAM_PROFILES: {"<model>": {"chunks": 10, "delayMs": 2}}.
//
// Environment: PORT (0 = any free port), HOST (127.0.0.1), MOCK_STREAM_PROFILES.
// Prints `listening on http://HOST:PORT` when ready; with BENCH_EXIT_WITH_STDIN=1
// it exits when its stdin closes, so it never outlives the harness that started it.
import { Buffer } from "node:buffer";
import http from "node:http";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { ANSWER_TEXT, ANSWER_WORDS } from "./lib/payload.js";
import { serveForBench } from "./lib/serve.js";

/** @typedef {{ chunks: number, delayMs: number }} StreamProfile */

/** Used for a model that has no profile of its own. */
const DEFAULT_PROFILE = { chunks: ANSWER_WORDS.length, delayMs: 0 };
const CREATED = 1_700_000_000;
const PROMPT_TOKENS = 212;
const COMPLETION_TOKENS = 10;

/** @type {Record<string, StreamProfile>} */
const profiles = JSON.parse(process.env.MOCK_STREAM_PROFILES || "{}");

// Answers are cached per model name; names that look unusual are not cached
// (and answered under a fixed name), so a bad client cannot grow the cache.
const MODEL_NAME = /^[A-Za-z0-9._:/@-]{1,100}$/;
const MAX_CACHED_MODELS = 64;

/** @type {Map<string, Buffer>} */
const completionCache = new Map();
/** @typedef {{ tokens: Buffer[], tail: Buffer, whole: Buffer }} StreamBytes */
/** @type {Map<string, StreamBytes>} */
const streamCache = new Map();

/**
 * The model name a request body asks for. A regular expression rather than
 * JSON.parse: the mock must stay cheap, and gateways send compact JSON.
 * @param {string} body
 */
function requestedModel(body) {
  const match = /"model"\s*:\s*"([^"\\]{1,100})"/.exec(body);
  const model = match?.[1];
  return model !== undefined && MODEL_NAME.test(model) ? model : "bench-upstream";
}

/**
 * @template T
 * @param {Map<string, T>} cache
 * @param {string} key
 * @param {() => T} make
 * @returns {T}
 */
function cached(cache, key, make) {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    if (cache.size < MAX_CACHED_MODELS) cache.set(key, value);
  }
  return value;
}

/** @param {string} model */
function completionBytes(model) {
  return Buffer.from(
    JSON.stringify({
      id: "chatcmpl-bench0000000000000000000001",
      object: "chat.completion",
      created: CREATED,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: ANSWER_TEXT, refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS, total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS },
      system_fingerprint: "fp_bench",
    }),
  );
}

/**
 * The SSE events of one stream: token events (the first with the role), and
 * the closing events together (finish reason, usage when asked, DONE).
 * @param {string} model
 * @param {boolean} includeUsage
 * @returns {StreamBytes}
 */
function streamEvents(model, includeUsage) {
  const profile = profiles[model] ?? DEFAULT_PROFILE;
  const base = { id: "chatcmpl-bench0000000000000000000002", object: "chat.completion.chunk", created: CREATED, model, system_fingerprint: "fp_bench" };
  /** @param {object} payload */
  const event = (payload) => Buffer.from(`data: ${JSON.stringify({ ...base, ...payload })}\n\n`);
  const tokens = [];
  for (let i = 0; i < profile.chunks; i++) {
    const delta = i === 0 ? { role: "assistant", content: ANSWER_WORDS[0] } : { content: ANSWER_WORDS[i % ANSWER_WORDS.length] };
    tokens.push(event({ choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }));
  }
  const closing = [event({ choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }] })];
  if (includeUsage) {
    closing.push(event({ choices: [], usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: profile.chunks, total_tokens: PROMPT_TOKENS + profile.chunks } }));
  }
  closing.push(Buffer.from("data: [DONE]\n\n"));
  const tail = Buffer.concat(closing);
  return { tokens, tail, whole: Buffer.concat([...tokens, tail]) };
}

const MODELS_BYTES = Buffer.from(
  JSON.stringify({
    object: "list",
    data: ["bench-upstream", ...Object.keys(profiles)].map((id) => ({ id, object: "model", created: CREATED, owned_by: "bench" })),
  }),
);
const NOT_FOUND_BYTES = Buffer.from(JSON.stringify({ error: { message: "not found", type: "invalid_request_error", param: null, code: null } }));

/**
 * Writes a precomputed JSON answer.
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {Buffer} bytes
 */
function sendJson(res, status, bytes) {
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length });
  res.end(bytes);
}

/**
 * Streams the events with the model's pause between them; stops if the client goes away.
 * @param {http.ServerResponse} res
 * @param {StreamBytes} events
 * @param {number} delayMs
 */
function sendStream(res, events, delayMs) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  if (delayMs <= 0) {
    res.end(events.whole);
    return;
  }
  // The first token goes out at once (time to first token is the gateway's,
  // not the mock's); then one token per pause; the closing events together.
  const { tokens: body, tail } = events;
  let next = 0;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const writeNext = () => {
    if (next < body.length) {
      res.write(body[next++]);
      timer = setTimeout(writeNext, delayMs);
    } else {
      res.end(tail);
    }
  };
  res.once("close", () => clearTimeout(timer));
  writeNext();
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/v1/models") {
    req.resume();
    sendJson(res, 200, MODELS_BYTES);
    return;
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    req.resume();
    sendJson(res, 404, NOT_FOUND_BYTES);
    return;
  }
  /** @type {Buffer[]} */
  const parts = [];
  req.on("data", (part) => parts.push(part));
  req.on("end", () => {
    const body = parts.length === 1 ? parts[0].toString() : Buffer.concat(parts).toString();
    const model = requestedModel(body);
    // `"stream":true` cannot occur inside a JSON string value (its quotes would be escaped).
    if (/"stream"\s*:\s*true/.test(body)) {
      const includeUsage = /"include_usage"\s*:\s*true/.test(body);
      const events = cached(streamCache, `${model}\n${includeUsage}`, () => streamEvents(model, includeUsage));
      sendStream(res, events, (profiles[model] ?? DEFAULT_PROFILE).delayMs);
    } else {
      sendJson(res, 200, cached(completionCache, model, () => completionBytes(model)));
    }
  });
});

// Keep-alive sockets stay open between runs; no request is timed out here.
serveForBench(server, "mock upstream");
