/**
 * A real HTTP server speaking OpenAI's wire format, for tests that need an
 * upstream model without a key or a network: chat completions (plain and SSE
 * streamed, with tool calls, legacy `functions`/`function_call` answered in
 * the legacy shape, `logprobs`/`top_logprobs` and `stream_options.include_usage`
 * handled the way OpenAI does), embeddings (float and base64) and the model list.
 *
 * Answers are deterministic functions of the request (see `mockReplyText`,
 * `mockToolArguments`, `mockEmbedding`), so tests can compute what they expect.
 * Tests can script failures (`failNext`, `scriptNext`), slow streams down
 * (`streamDelayMs`) and observe a client that hangs up mid-answer
 * (`abortedRequests`, `waitForAbort`) to prove cancellation reaches the socket.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import { serveCompletions } from "./mock-completions.js";

/** How to start a mock. */
export interface MockOpenAIOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** Delay between streamed chunks, in milliseconds (default 0); also settable later on the mock. */
  streamDelayMs?: number;
  /** Ids served by GET /v1/models (default gpt-4o-mini, text-embedding-3-small). */
  models?: readonly string[];
  /** Embedding size when the request names no `dimensions` (default 8). */
  embeddingDimensions?: number;
}

/** One request as the mock received it. */
export interface RecordedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** The query string including `?`, or "". */
  query: string;
  /** Lower-cased header names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** The client socket's port: two requests with the same port shared one kept-alive connection. */
  remotePort: number;
}

/** An HTTP error answer. `body` defaults to OpenAI's error JSON for the status; a string is sent raw. */
export interface MockHttpFailure {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One scripted misbehaviour, used by the next request (of any endpoint).
 * Stream-only behaviours answer non-streamed requests normally, except
 * `reset`, `invalid-json` and `hang`, which apply to every request.
 */
export type MockScript =
  /** Answer with this HTTP error. */
  | ({ kind: "http" } & MockHttpFailure)
  /** Streamed chat: send `afterChunks` chunks (default 1), then a data event with an `error` object, then end without [DONE]. */
  | { kind: "stream-error"; afterChunks?: number; error?: Record<string, unknown> }
  /** Streamed chat: the whole answer, but the body ends without `data: [DONE]`. */
  | { kind: "no-done" }
  /** Destroy the connection: before answering, or for streams after `afterChunks` chunks. */
  | { kind: "reset"; afterChunks?: number }
  /** Answer 200 with a body (or, streamed, a first data event) that is not JSON. */
  | { kind: "invalid-json" }
  /** Never answer; the request stays open until the client gives up (counted in `abortedRequests`). */
  | { kind: "hang" }
  /** Streamed chat: send everything including [DONE], then keep the body open `ms` before ending it. */
  | { kind: "slow-close"; ms: number }
  /** Wait `ms` before answering (normally), as a slow model would. */
  | { kind: "delay"; ms: number };

/** A running mock upstream. */
export interface MockOpenAI {
  /** Base URL ending in `/v1`, as a provider's `base_url`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Delay between streamed chunks, in milliseconds; read before each chunk, so changes apply at once. */
  streamDelayMs: number;
  /** How many responses the client abandoned (socket closed before the response finished). */
  readonly abortedRequests: number;
  /** How many TCP connections clients opened: fewer than requests means keep-alive worked. */
  readonly connections: number;
  /** The next `n` requests fail with this HTTP answer (queued after earlier scripts). */
  failNext(n: number, failure: MockHttpFailure): void;
  /** Queues scripted behaviours, one per coming request, in order. */
  scriptNext(...scripts: MockScript[]): void;
  /** Resolves once `abortedRequests` reaches `count` (default: one more than now). */
  waitForAbort(count?: number): Promise<void>;
  /** Resolves once `requests.length` reaches `count`. */
  waitForRequests(count: number): Promise<void>;
  /** Forgets recorded requests, scripts and counters. */
  reset(): void;
  /** Stops the server and cuts open connections. */
  close(): Promise<void>;
}

const DEFAULT_MODELS = ["gpt-4o-mini", "text-embedding-3-small"] as const;
const SYSTEM_FINGERPRINT = "fp_mock0a1b2c";
/** Characters per streamed tool-argument fragment; also the mock's "token" size for arguments. */
const ARGUMENT_FRAGMENT_CHARS = 4;

/** Starts a mock OpenAI upstream on 127.0.0.1 with a free port. */
export async function startMockOpenAI(options: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const mock = new MockOpenAIServer(options);
  await mock.listen();
  return mock;
}

// ---------------------------------------------------------------------------
// Deterministic content: exported so tests can compute what they expect.

/** The text of a message's `content`: a string, or the joined text parts of an array. */
export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (isRecord(part) && part.type === "text" && typeof part.text === "string" ? part.text : ""))
    .filter((text) => text !== "")
    .join(" ");
}

/** The text of the last `user` message of a chat body, or "". */
export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const message: unknown = messages[i];
    if (isRecord(message) && message.role === "user") return messageText(message.content);
  }
  return "";
}

/** The assistant text the mock answers to a last user message. */
export function mockReplyText(userText: string): string {
  return userText === "" ? "Hello from the mock upstream." : `You said: ${userText}`;
}

/** The mock's token count for a text: its whitespace-separated words. */
export function mockTokenCount(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/**
 * The JSON arguments the mock sends for a tool, built from its parameters
 * schema's `properties`: a string is the last user message (or the first
 * `enum` value), a number 42, a boolean true, an array [] and an object {}.
 */
export function mockToolArguments(parameters: unknown, userText: string): string {
  const args: Record<string, unknown> = {};
  const properties = isRecord(parameters) && isRecord(parameters.properties) ? parameters.properties : {};
  for (const [name, schema] of Object.entries(properties)) {
    const spec = isRecord(schema) ? schema : {};
    if (Array.isArray(spec.enum) && spec.enum.length > 0) args[name] = spec.enum[0];
    else if (spec.type === "string") args[name] = userText;
    else if (spec.type === "number" || spec.type === "integer") args[name] = 42;
    else if (spec.type === "boolean") args[name] = true;
    else if (spec.type === "array") args[name] = [];
    else if (spec.type === "object") args[name] = {};
    else args[name] = null;
  }
  return JSON.stringify(args);
}

/**
 * The mock's embedding of one input: a unit vector derived from a hash of the
 * input, with float32 precision (so float and base64 answers agree exactly).
 */
export function mockEmbedding(input: string | readonly number[], dimensions: number): number[] {
  const seed = typeof input === "string" ? `text:${input}` : `tokens:${input.join(",")}`;
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash("sha256").update(`${seed}#${block}`).digest();
    for (let i = 0; i + 1 < digest.length && raw.length < dimensions; i += 2) {
      raw.push(digest.readUInt16LE(i) / 32767.5 - 1);
    }
  }
  const norm = Math.sqrt(raw.reduce((sum, v) => sum + v * v, 0)) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

/** A vector as OpenAI's base64 encoding: float32 little-endian bytes. */
export function embeddingToBase64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString("base64");
}

/** OpenAI's error JSON for an HTTP status, as the mock sends it. */
export function openAIErrorBody(status: number, message?: string): { error: Record<string, unknown> } {
  const known: Record<number, [string, string, string | null]> = {
    400: ["Invalid request.", "invalid_request_error", null],
    401: ["Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key"],
    403: ["You are not allowed to access this resource.", "invalid_request_error", null],
    404: ["The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"],
    429: ["Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"],
    500: ["The server had an error while processing your request. Sorry about that!", "server_error", null],
    503: ["The engine is currently overloaded, please try again later.", "server_error", null],
  };
  const [defaultMessage, type, code] = known[status] ?? [
    `Mock failure with HTTP ${status}.`,
    status >= 500 ? "server_error" : "invalid_request_error",
    null,
  ];
  return { error: { message: message ?? defaultMessage, type, param: null, code } };
}

// ---------------------------------------------------------------------------

class MockOpenAIServer implements MockOpenAI {
  url = "";
  readonly requests: RecordedRequest[] = [];
  streamDelayMs: number;
  abortedRequests = 0;
  connections = 0;

  readonly #options: MockOpenAIOptions;
  // A failure inside the mock must not crash the test run: it shows up as a cut connection instead.
  readonly #server = createServer((req, res) => void this.#handle(req, res).catch(() => res.destroy()));
  readonly #scripts: MockScript[] = [];
  readonly #abortWaiters: Array<{ count: number; resolve: () => void }> = [];
  readonly #requestWaiters: Array<{ count: number; resolve: () => void }> = [];
  #sequence = 0;
  #closed = false;

  constructor(options: MockOpenAIOptions) {
    this.#options = options;
    this.streamDelayMs = options.streamDelayMs ?? 0;
    this.#server.on("connection", (socket: Socket) => {
      this.connections++;
      socket.on("error", () => socket.destroy());
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/v1`;
  }

  failNext(n: number, failure: MockHttpFailure): void {
    for (let i = 0; i < n; i++) this.#scripts.push({ kind: "http", ...failure });
  }

  scriptNext(...scripts: MockScript[]): void {
    this.#scripts.push(...scripts);
  }

  waitForAbort(count = this.abortedRequests + 1): Promise<void> {
    return waitUntil(this.#abortWaiters, count, this.abortedRequests);
  }

  waitForRequests(count: number): Promise<void> {
    return waitUntil(this.#requestWaiters, count, this.requests.length);
  }

  reset(): void {
    this.requests.length = 0;
    this.#scripts.length = 0;
    this.abortedRequests = 0;
    this.connections = 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const exchange = new Exchange(res);
    res.on("close", () => {
      // A response that closes unfinished was abandoned by the client, unless the mock cut it itself.
      if (!res.writableFinished && !exchange.cutByMock) {
        this.abortedRequests++;
        notify(this.#abortWaiters, this.abortedRequests);
      }
    });
    const text = await readBody(req);
    const [path = "", query = ""] = (req.url ?? "/").split(/(?=\?)/, 2);
    this.requests.push({
      method: req.method ?? "GET",
      path,
      query,
      headers: req.headers,
      body: text === "" ? undefined : parseJsonOr(text),
      remotePort: req.socket.remotePort ?? 0,
    });
    notify(this.#requestWaiters, this.requests.length);

    const apiKey = this.#options.apiKey;
    if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) {
      const message = req.headers.authorization
        ? undefined
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      return exchange.json(401, openAIErrorBody(401, message));
    }

    const script = this.#scripts.shift();
    if (script?.kind === "delay") await exchange.pause(script.ms);
    if (script?.kind === "http") return exchange.failure(script);
    if (script?.kind === "hang") return; // never answer; the close listener counts the client giving up
    if (script?.kind === "reset" && !(req.method === "POST" && path === "/v1/chat/completions" && isStreamed(text))) {
      return exchange.cut();
    }
    if (script?.kind === "invalid-json" && !isStreamed(text)) {
      return exchange.raw(200, "application/json", "{ this is not json");
    }

    const body = parseJsonOr(text);
    if (req.method === "POST" && path === "/v1/chat/completions") return this.#chat(exchange, body, text, script);
    if (req.method === "POST" && path === "/v1/embeddings") return this.#embeddings(exchange, body);
    if (req.method === "POST" && path === "/v1/completions") return serveCompletions(res, body);
    if (req.method === "GET" && path === "/v1/models") return this.#models(exchange);
    const model = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (req.method === "GET" && model?.[1] !== undefined) return this.#model(exchange, decodeURIComponent(model[1]));
    return exchange.json(404, invalid(`Invalid URL (${req.method ?? "GET"} ${path})`));
  }

  async #chat(exchange: Exchange, body: unknown, text: string, script: MockScript | undefined): Promise<void> {
    if (!isRecord(body)) return exchange.json(400, unparsable(text));
    if (typeof body.model !== "string" || body.model === "") {
      return exchange.json(400, invalid("you must provide a model parameter"));
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return exchange.json(400, invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array"));
    }
    const stream = body.stream === true;
    if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
      return exchange.json(400, invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"));
    }

    const answer = this.#answer(body);
    if (!stream) return exchange.json(200, answer.completion());
    const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
    let events = answer.chunks(includeUsage).map((chunk) => JSON.stringify(chunk));
    let cutAfter: number | undefined;
    let lingerMs = 0;
    if (script?.kind === "stream-error") {
      events = [...events.slice(0, script.afterChunks ?? 1), JSON.stringify({ error: script.error ?? openAIErrorBody(500).error })];
    } else if (script?.kind === "invalid-json") {
      events = ["{ this is not json", ...events];
    } else if (script?.kind === "reset") {
      cutAfter = script.afterChunks ?? 1;
      events = events.slice(0, cutAfter);
    } else if (script?.kind !== "no-done") {
      events.push("[DONE]");
      if (script?.kind === "slow-close") lingerMs = script.ms;
    }
    await exchange.stream(events, () => this.streamDelayMs);
    if (lingerMs > 0) await exchange.pause(lingerMs);
    if (cutAfter !== undefined) exchange.cut();
    else exchange.end();
  }

  /** Builds the deterministic answer to a chat body. */
  #answer(body: Record<string, unknown>): ChatAnswer {
    const seq = ++this.#sequence;
    const userText = lastUserText(body.messages);
    const choices = typeof body.n === "number" && body.n > 1 ? Math.floor(body.n) : 1;
    const promptTokens = (body.messages as unknown[]).reduce<number>(
      (sum, m) => sum + (isRecord(m) ? mockTokenCount(messageText(m.content)) : 0),
      0,
    );
    const base = {
      id: mockId("chatcmpl-", `${seq}:${JSON.stringify(body)}`, 29),
      created: Math.floor(Date.now() / 1000),
      model: body.model as string,
      choices,
      promptTokens,
    };
    const tool = chosenTool(body);
    if (tool !== undefined) {
      const args = mockToolArguments(tool.parameters, userText);
      return new ChatAnswer({ ...base, toolCall: { id: mockId("call_", `${seq}:${tool.name}`, 24), name: tool.name, arguments: args } });
    }
    const fn = chosenFunction(body);
    if (fn !== undefined) {
      return new ChatAnswer({ ...base, functionCall: { name: fn.name, arguments: mockToolArguments(fn.parameters, userText) } });
    }
    const limit = firstNumber(body.max_completion_tokens, body.max_tokens);
    let reply = mockReplyText(userText);
    let finishReason = "stop";
    if (limit !== undefined && mockTokenCount(reply) > limit) {
      reply = (reply.match(/\S+/g) ?? []).slice(0, Math.max(0, limit)).join(" ");
      finishReason = "length";
    }
    const logprobs = body.logprobs === true ? (typeof body.top_logprobs === "number" ? body.top_logprobs : 0) : undefined;
    return new ChatAnswer({ ...base, text: reply, finishReason, logprobs });
  }

  #embeddings(exchange: Exchange, body: unknown): void {
    if (!isRecord(body)) return exchange.json(400, unparsable(String(body)));
    if (typeof body.model !== "string" || body.model === "") {
      return exchange.json(400, invalid("you must provide a model parameter"));
    }
    const inputs = embeddingInputs(body.input);
    if (inputs === undefined) {
      return exchange.json(400, invalid("'input' is a required property and must be a string, an array of strings or an array of token arrays.", "input"));
    }
    const dimensions =
      typeof body.dimensions === "number" && body.dimensions > 0 ? Math.floor(body.dimensions) : this.#options.embeddingDimensions ?? 8;
    const base64 = body.encoding_format === "base64";
    const tokens = inputs.reduce<number>((sum, input) => sum + (typeof input === "string" ? mockTokenCount(input) : input.length), 0);
    exchange.json(200, {
      object: "list",
      data: inputs.map((input, index) => {
        const vector = mockEmbedding(input, dimensions);
        return { object: "embedding", index, embedding: base64 ? embeddingToBase64(vector) : vector };
      }),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  #models(exchange: Exchange): void {
    exchange.json(200, { object: "list", data: this.#modelIds().map(modelJson) });
  }

  #model(exchange: Exchange, id: string): void {
    if (!this.#modelIds().includes(id)) {
      return exchange.json(404, invalid(`The model '${id}' does not exist`, "model", "model_not_found"));
    }
    exchange.json(200, modelJson(id));
  }

  #modelIds(): readonly string[] {
    return this.#options.models ?? DEFAULT_MODELS;
  }
}

/** One deterministic chat answer, rendered whole or as chunks. */
class ChatAnswer {
  constructor(
    private readonly a: {
      id: string;
      created: number;
      model: string;
      choices: number;
      promptTokens: number;
      text?: string;
      finishReason?: string;
      toolCall?: { id: string; name: string; arguments: string };
      /** A legacy `functions` call, answered as `message.function_call`. */
      functionCall?: { name: string; arguments: string };
      /** Set when the request asked for logprobs: how many `top_logprobs` per token. */
      logprobs?: number;
    },
  ) {}

  #completionTokens(): number {
    const { toolCall, functionCall, text } = this.a;
    const call = toolCall ?? functionCall;
    if (call !== undefined) return fragments(call.arguments).length;
    return mockTokenCount(text ?? "") * this.a.choices;
  }

  #usage(): Record<string, unknown> {
    const completion = this.#completionTokens();
    return {
      prompt_tokens: this.a.promptTokens,
      completion_tokens: completion,
      total_tokens: this.a.promptTokens + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
  }

  #envelope(object: string): Record<string, unknown> {
    return { id: this.a.id, object, created: this.a.created, model: this.a.model, service_tier: "default", system_fingerprint: SYSTEM_FINGERPRINT };
  }

  /** OpenAI's `logprobs` object for a piece of text (one token per piece), or null when not asked for. */
  #logprobs(pieces: readonly string[]): Record<string, unknown> | null {
    if (this.a.logprobs === undefined) return null;
    const top = this.a.logprobs;
    return { content: pieces.map((piece) => mockLogprob(piece, top)), refusal: null };
  }

  #finishReason(): string {
    if (this.a.toolCall) return "tool_calls";
    if (this.a.functionCall) return "function_call";
    return this.a.finishReason ?? "stop";
  }

  completion(): Record<string, unknown> {
    const { toolCall, functionCall } = this.a;
    let message: Record<string, unknown>;
    if (toolCall) {
      message = {
        role: "assistant",
        content: null,
        tool_calls: [{ id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: toolCall.arguments } }],
        refusal: null,
        annotations: [],
      };
    } else if (functionCall) {
      message = { role: "assistant", content: null, function_call: { ...functionCall }, refusal: null, annotations: [] };
    } else {
      message = { role: "assistant", content: this.a.text ?? "", refusal: null, annotations: [] };
    }
    const single = toolCall !== undefined || functionCall !== undefined;
    const logprobs = single ? null : this.#logprobs(textPieces(this.a.text ?? ""));
    // OpenAI's key order for a complete answer: the serving fields after usage (a chunk has them before choices).
    const { service_tier, system_fingerprint, ...head } = this.#envelope("chat.completion");
    return {
      ...head,
      choices: Array.from({ length: single ? 1 : this.a.choices }, (_, index) => ({ index, message, logprobs, finish_reason: this.#finishReason() })),
      usage: this.#usage(),
      service_tier,
      system_fingerprint,
    };
  }

  /** The chunk objects of a streamed answer, the usage chunk last when asked for. */
  chunks(includeUsage: boolean): Record<string, unknown>[] {
    const usageField = includeUsage ? { usage: null } : {};
    const chunk = (index: number, delta: Record<string, unknown>, finishReason: string | null = null, logprobs: unknown = null) => ({
      ...this.#envelope("chat.completion.chunk"),
      choices: [{ index, delta, logprobs, finish_reason: finishReason }],
      ...usageField,
    });
    const out: Record<string, unknown>[] = [];
    const { toolCall, functionCall } = this.a;
    if (toolCall) {
      out.push(
        chunk(0, {
          role: "assistant",
          content: null,
          tool_calls: [{ index: 0, id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: "" } }],
          refusal: null,
        }),
      );
      for (const piece of fragments(toolCall.arguments)) out.push(chunk(0, { tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      out.push(chunk(0, {}, this.#finishReason()));
    } else if (functionCall) {
      out.push(chunk(0, { role: "assistant", content: null, function_call: { name: functionCall.name, arguments: "" }, refusal: null }));
      for (const piece of fragments(functionCall.arguments)) out.push(chunk(0, { function_call: { arguments: piece } }));
      out.push(chunk(0, {}, this.#finishReason()));
    } else {
      const choices = Array.from({ length: this.a.choices }, (_, index) => index);
      const emptyLogprobs = this.#logprobs([]);
      for (const index of choices) out.push(chunk(index, { role: "assistant", content: "", refusal: null }, null, emptyLogprobs));
      for (const piece of textPieces(this.a.text ?? "")) {
        for (const index of choices) out.push(chunk(index, { content: piece }, null, this.#logprobs([piece])));
      }
      for (const index of choices) out.push(chunk(index, {}, this.#finishReason()));
    }
    if (includeUsage) out.push({ ...this.#envelope("chat.completion.chunk"), choices: [], usage: this.#usage() });
    return out;
  }
}

/** The pieces a text streams in (and the mock's logprob tokens): words with their trailing space. */
function textPieces(text: string): string[] {
  return text.split(/(?<= )/).filter((piece) => piece !== "");
}

/** A deterministic logprob entry: the token itself most likely, then `top - 1` made-up alternatives. */
function mockLogprob(token: string, top: number): Record<string, unknown> {
  const entry = (t: string, logprob: number) => ({ token: t, logprob, bytes: [...Buffer.from(t, "utf8")] });
  const alternatives = Array.from({ length: top }, (_, i) => entry(i === 0 ? token : `${token.trim()}~${i}`, -i));
  return { ...entry(token, 0), top_logprobs: alternatives };
}

/** One response being written; knows whether the mock itself cut the connection. */
class Exchange {
  cutByMock = false;

  constructor(private readonly res: ServerResponse) {}

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.raw(status, "application/json", JSON.stringify(body), headers);
  }

  raw(status: number, contentType: string, text: string, headers: Record<string, string> = {}): void {
    if (this.res.destroyed) return;
    this.res.writeHead(status, { "content-type": contentType, ...commonHeaders(), ...headers });
    this.res.end(text);
  }

  failure(failure: MockHttpFailure): void {
    const body = failure.body ?? openAIErrorBody(failure.status);
    if (typeof body === "string") this.raw(failure.status, "text/plain; charset=utf-8", body, failure.headers);
    else this.json(failure.status, body, failure.headers);
  }

  /** Writes `data:` events with the delay between them; stops early if the client left. */
  async stream(events: readonly string[], delayMs: () => number): Promise<void> {
    if (this.res.destroyed) return;
    this.res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...commonHeaders() });
    this.res.flushHeaders();
    for (let i = 0; i < events.length; i++) {
      const delay = delayMs();
      if (i > 0 && delay > 0) await this.pause(delay);
      if (this.res.destroyed) return;
      this.res.write(`data: ${events[i]}\n\n`);
    }
  }

  end(): void {
    if (!this.res.destroyed) this.res.end();
  }

  /** Waits `ms`, or less if the connection closes first (so no timer outlives a closed mock). */
  pause(ms: number): Promise<void> {
    if (this.res.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.res.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.res.once("close", done);
    });
  }

  /** Destroys the connection without finishing the response, as a crashing upstream would. */
  cut(): void {
    this.cutByMock = true;
    this.res.socket?.destroy();
    this.res.destroy();
  }
}

// ---------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isStreamed(text: string): boolean {
  const body = parseJsonOr(text);
  return isRecord(body) && body.stream === true;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function waitUntil(waiters: Array<{ count: number; resolve: () => void }>, count: number, now: number): Promise<void> {
  if (now >= count) return Promise.resolve();
  return new Promise((resolve) => waiters.push({ count, resolve }));
}

function notify(waiters: Array<{ count: number; resolve: () => void }>, now: number): void {
  for (let i = waiters.length - 1; i >= 0; i--) {
    const waiter = waiters[i];
    if (waiter !== undefined && now >= waiter.count) {
      waiters.splice(i, 1);
      waiter.resolve();
    }
  }
}

function commonHeaders(): Record<string, string> {
  return { "x-request-id": mockId("req_", `${Date.now()}:${Math.random()}`, 32), "openai-processing-ms": "1", "openai-version": "2020-10-01" };
}

/** A realistic-looking id: prefix plus `length` alphanumerics derived from `seed`. */
function mockId(prefix: string, seed: string, length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const digest = createHash("sha256").update(seed).digest();
  let id = prefix;
  for (let i = 0; i < length; i++) id += alphabet[(digest[i % digest.length] ?? 0) % alphabet.length];
  return id;
}

function modelJson(id: string): Record<string, unknown> {
  return { id, object: "model", created: 1_721_172_741, owned_by: "system" };
}

function invalid(message: string, param: string | null = null, code: string | null = null): { error: Record<string, unknown> } {
  return { error: { message, type: "invalid_request_error", param, code } };
}

function unparsable(text: string): { error: Record<string, unknown> } {
  return invalid(
    `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.) Received: ${text.slice(0, 40)}`,
  );
}

/** Splits tool arguments into the fragments a stream sends. */
function fragments(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += ARGUMENT_FRAGMENT_CHARS) out.push(text.slice(i, i + ARGUMENT_FRAGMENT_CHARS));
  return out;
}

function firstNumber(...values: unknown[]): number | undefined {
  return values.find((v): v is number => typeof v === "number");
}

/**
 * The legacy function the mock calls: none without `functions` or with
 * `function_call: "none"`; the one `function_call` names; else the first.
 */
function chosenFunction(body: Record<string, unknown>): { name: string; parameters: unknown } | undefined {
  if (!Array.isArray(body.functions) || body.functions.length === 0 || body.function_call === "none") return undefined;
  const functions = body.functions.filter((fn): fn is Record<string, unknown> => isRecord(fn) && typeof fn.name === "string");
  const forced = isRecord(body.function_call) ? body.function_call.name : undefined;
  const fn = functions.find((f) => f.name === forced) ?? functions[0];
  return fn === undefined ? undefined : { name: fn.name as string, parameters: fn.parameters };
}

/** The tool the mock calls: none when there are no tools or tool_choice is "none"; the forced one; else the first. */
function chosenTool(body: Record<string, unknown>): { name: string; parameters: unknown } | undefined {
  if (!Array.isArray(body.tools) || body.tools.length === 0 || body.tool_choice === "none") return undefined;
  const tools = body.tools
    .map((tool: unknown) => (isRecord(tool) && isRecord(tool.function) ? tool.function : undefined))
    .filter((fn): fn is Record<string, unknown> => fn !== undefined && typeof fn.name === "string");
  const forced = isRecord(body.tool_choice) && isRecord(body.tool_choice.function) ? body.tool_choice.function.name : undefined;
  const fn = tools.find((t) => t.name === forced) ?? tools[0];
  return fn === undefined ? undefined : { name: fn.name as string, parameters: fn.parameters };
}

function embeddingInputs(input: unknown): Array<string | number[]> | undefined {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((v) => typeof v === "string")) return input as string[];
  if (input.every((v) => typeof v === "number")) return [input as number[]];
  if (input.every((v) => Array.isArray(v) && v.every((t) => typeof t === "number"))) return input as number[][];
  return undefined;
}
