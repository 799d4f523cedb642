/**
 * Property-based fuzzing of the REST edge: random JSON, broken variants of a
 * valid chat request, random bytes and random methods and paths, sent to the
 * all-in-one gateway in front of a mock OpenAI upstream over kept-alive
 * HTTP/1.1. Whatever arrives, the answer is never a 5xx, every 4xx is a
 * well-formed OpenAI error envelope, nothing hangs (each request has a
 * client-side time limit), and the gateway still serves a normal request at
 * the end. Valid inputs may well get a 200: the mock answers them.
 *
 * Seeded, so a failure replays: the seed is printed, and FUZZ_SEED=<seed>
 * (with FUZZ_RUNS=<n> for a longer run) reproduces or widens the search.
 */
import fc from "fast-check";
import { Agent, request, type Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockOpenAI, type MockOpenAI } from "./support/mock-openai-upstream.js";
import { startAllInOne } from "./support/mesh.js";
import { ANSWER_TIME_LIMIT_MS, errorEnvelopeOf } from "./support/raw-http.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** Vitest's limit per property: generous, and growing with FUZZ_RUNS for long runs. */
const PROPERTY_TIME_LIMIT_MS = Math.max(30_000, RUNS * 100);
const MODEL = "gpt-fuzz";
const EMBED_MODEL = "embed-fuzz";

const JSON_PATHS = ["/v1/chat/completions", "/v1/embeddings"] as const;
const KNOWN_PATHS = [...JSON_PATHS, "/v1/models", `/v1/models/${MODEL}`, "/healthz", "/admin/config", "/admin/config/validate"] as const;
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
const CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream", "application/vnd.api+json; charset=utf-8"];

let mock: MockOpenAI;
let gateway: { url: string; close(graceMs?: number): Promise<void> };
let agent: Agent;

beforeAll(async () => {
  console.log(`fuzz-edge: seed ${SEED}, ${RUNS} runs per property (replay with FUZZ_SEED=${SEED})`);
  mock = await startMockOpenAI();
  gateway = await startAllInOne(`
providers:
  - { name: upstream, adapter: openai, base_url: "${mock.url}" }
models:
  - name: ${MODEL}
    targets: [{ provider: upstream, model: gpt-4o-mini }]
  - name: ${EMBED_MODEL}
    targets: [{ provider: upstream, model: text-embedding-3-small }]
server:
  body_limit_bytes: 262144
`);
  // Few connections, kept alive: the inputs share sockets, as a real client's requests do.
  agent = new Agent({ connections: 2, headersTimeout: ANSWER_TIME_LIMIT_MS, bodyTimeout: ANSWER_TIME_LIMIT_MS });
});

afterAll(async () => {
  await agent?.close();
  await gateway?.close(1000);
  await mock?.close();
});

interface Probe {
  method: string;
  path: string;
  body?: string | Uint8Array;
  contentType?: string;
}

/**
 * Sends one probe and checks what every answer must satisfy. Returns the
 * status for properties that check more.
 */
async function probe({ method, path, body, contentType }: Probe): Promise<number> {
  // The dispatcher's own request: the path goes out as written, not normalised as a URL would be.
  const res = await agent.request({
    origin: gateway.url,
    method: method as Dispatcher.HttpMethod,
    path,
    body,
    headers: contentType === undefined ? {} : { "content-type": contentType },
    signal: AbortSignal.timeout(ANSWER_TIME_LIMIT_MS),
  });
  const text = await res.body.text();
  const shown = `${method} ${path.slice(0, 100)} ${typeof body === "string" ? body.slice(0, 300) : `(${body?.length ?? 0} bytes)`}`;
  expect(res.statusCode, `${shown} → ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400 && method !== "HEAD") {
    expect(() => errorEnvelopeOf({ text }), `${shown} → ${text.slice(0, 300)}`).not.toThrow();
  }
  return res.statusCode;
}

/**
 * Each property gets its own seed derived from SEED. No shrinking: every
 * shrink step is another round trip (and a hang costs the full time limit),
 * so the first counterexample is reported as found, with its seed and path.
 */
const runs = (offset: number): fc.Parameters<unknown> => ({ seed: SEED + offset, numRuns: RUNS, endOnFailure: true });

/**
 * Arrays or objects nested hundreds to thousands deep: recursion's enemy.
 * Kept as a marker until the body is written out (JSON.stringify, and
 * fast-check's report, would recurse as deep as it nests).
 */
class DeepNesting {
  constructor(
    readonly depth: number,
    readonly objects: boolean,
  ) {}

  toJSON(): string {
    return `@@nesting:${this.depth}:${this.objects ? "objects" : "arrays"}@@`;
  }

  [fc.toStringMethod](): string {
    return `<${this.depth} nested ${this.objects ? "objects" : "arrays"}>`;
  }
}

const deepValue = fc.tuple(fc.integer({ min: 100, max: 5000 }), fc.boolean()).map(([depth, objects]) => new DeepNesting(depth, objects));

/** A body as JSON text, each DeepNesting written out in full. */
function bodyText(body: unknown): string {
  return JSON.stringify(body).replace(/"@@nesting:(\d+):(objects|arrays)@@"/g, (_, depth: string, kind: string) => {
    const n = Number(depth);
    return kind === "objects" ? `${'{"a":'.repeat(n)}1${"}".repeat(n)}` : `${"[".repeat(n)}1${"]".repeat(n)}`;
  });
}

/** Values that often break things, beside whatever fc.jsonValue makes up. */
const edgyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  deepValue,
  fc.constantFrom<unknown>(null, 0, -1, -0.5, 1e308, 2 ** 63, "", " ", [], {}, true, [[]], [{}], "gpt-fuzz", "../", "\u0000", "\ud800", MODEL),
);

type Json = Record<string, unknown>;

/** A chat request every field of which is valid: the start of each mutation. */
function validChat(): Json {
  return {
    model: MODEL,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Weather?" }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
      { role: "user", content: "Thanks" },
    ],
    tools: [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    tool_choice: "auto",
    temperature: 0.5,
    max_tokens: 50,
    n: 1,
    stop: ["\n\n"],
    stream: false,
    stream_options: null,
    response_format: { type: "text" },
    metadata: { team: "fuzz" },
  };
}

/** Places where a mutation may hit: top-level fields and fields inside messages, tools and parts. */
const MUTATION_PATHS: ReadonlyArray<ReadonlyArray<string | number>> = [
  ["model"], ["messages"], ["tools"], ["tool_choice"], ["temperature"], ["max_tokens"], ["n"], ["stop"], ["stream"],
  ["stream_options"], ["response_format"], ["metadata"], ["seed"], ["logit_bias"], ["logprobs"], ["top_logprobs"], ["user"],
  ["messages", 0], ["messages", 1, "role"], ["messages", 1, "content"], ["messages", 1, "content", 0], ["messages", 1, "content", 0, "type"],
  ["messages", 2, "tool_calls"], ["messages", 2, "tool_calls", 0, "id"], ["messages", 2, "tool_calls", 0, "function"],
  ["messages", 2, "tool_calls", 0, "function", "arguments"], ["messages", 3, "tool_call_id"], ["messages", 3, "role"], ["messages", 4, "name"],
  ["tools", 0, "type"], ["tools", 0, "function", "name"], ["tools", 0, "function", "parameters"], ["response_format", "type"],
];

type Mutation =
  | { op: "set"; path: ReadonlyArray<string | number>; value: unknown }
  | { op: "delete"; path: ReadonlyArray<string | number> }
  | { op: "add"; path: ReadonlyArray<string | number>; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), path: fc.constantFrom(...MUTATION_PATHS), value: edgyValue }),
  fc.record({ op: fc.constant("delete" as const), path: fc.constantFrom(...MUTATION_PATHS) }),
  fc.record({
    op: fc.constant("add" as const),
    path: fc.constantFrom<ReadonlyArray<string | number>>([], ["messages", 1], ["tools", 0, "function"], ["stream_options"]),
    key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "stream", "include_usage", "role")),
    value: edgyValue,
  }),
);

/** Applies a mutation in place, where its path still exists. */
function apply(body: Json, change: Mutation): void {
  const path = change.op === "add" ? [...change.path, change.key] : change.path;
  let parent: unknown = body;
  for (const step of path.slice(0, -1)) {
    if (typeof parent !== "object" || parent === null) return;
    parent = (parent as Record<string | number, unknown>)[step];
  }
  if (typeof parent !== "object" || parent === null) return;
  const last = path[path.length - 1] as string | number;
  const target = parent as Record<string | number, unknown>;
  if (change.op === "delete") delete target[last];
  // defineProperty, so a `__proto__` key becomes data, as JSON.parse makes it.
  else Object.defineProperty(target, last, { value: change.value, enumerable: true, writable: true, configurable: true });
}

describe("fuzzing the REST edge", () => {
  it("random JSON documents to every JSON endpoint", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JSON_PATHS), fc.json({ maxDepth: 4 }), async (path, body) => {
        await probe({ method: "POST", path, body, contentType: "application/json" });
      }),
      runs(1),
    );
  }, PROPERTY_TIME_LIMIT_MS);

  it("valid chat requests with fields replaced, removed and added", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (changes) => {
        const body = validChat();
        for (const change of changes) apply(body, change);
        await probe({ method: "POST", path: "/v1/chat/completions", body: bodyText(body), contentType: "application/json" });
      }),
      runs(2),
    );
  }, PROPERTY_TIME_LIMIT_MS);

  it("valid request text with characters cut out or spliced in", async () => {
    const text = JSON.stringify(validChat());
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: text.length }),
        fc.nat({ max: 8 }),
        fc.string({ maxLength: 4, unit: fc.constantFrom("{", "}", "[", "]", '"', "\\", ",", ":", "0", "-", "e", "n", "\u00e9", "\ud83d") }),
        async (at, cut, insert) => {
          await probe({ method: "POST", path: "/v1/chat/completions", body: text.slice(0, at) + insert + text.slice(at + cut), contentType: "application/json" });
        },
      ),
      runs(3),
    );
  }, PROPERTY_TIME_LIMIT_MS);

  it("random bytes under any content type", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...JSON_PATHS), fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...CONTENT_TYPES), async (path, bytes, contentType) => {
        await probe({ method: "POST", path, body: bytes, contentType });
      }),
      runs(4),
    );
  }, PROPERTY_TIME_LIMIT_MS);

  it("random methods and paths, with and without a body", async () => {
    const path = fc.oneof(
      fc.constantFrom(...KNOWN_PATHS),
      fc.webPath().map((p) => (p.startsWith("/") ? p : `/${p}`)),
      fc.tuple(fc.constantFrom(...KNOWN_PATHS), fc.webSegment(), fc.webQueryParameters()).map(([base, segment, query]) => `${base}/${segment}?${query}`),
      fc.constantFrom("/v1/models/%", "/v1/models/%E0%A4%A", "/v1/models/..%2F..%2Fadmin", "//v1/chat/completions", "/v1/chat/completions/", "/V1/MODELS", "/v1/models/%00"),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), path, fc.option(fc.json({ maxDepth: 2 }), { nil: undefined }), async (method, target, body) => {
        const withBody = method !== "GET" && method !== "HEAD" && method !== "OPTIONS" ? body : undefined;
        await probe({ method, path: target, body: withBody, contentType: withBody === undefined ? undefined : "application/json" });
      }),
      runs(5),
    );
  }, PROPERTY_TIME_LIMIT_MS);

  it("still serves a normal request afterwards", async () => {
    const res = await request(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "still alive?" }] }),
      headers: { "content-type": "application/json" },
      dispatcher: agent,
      signal: AbortSignal.timeout(ANSWER_TIME_LIMIT_MS),
    });
    expect(res.statusCode).toBe(200);
    const answer = (await res.body.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe("You said: still alive?");
  });
});
