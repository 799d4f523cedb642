/**
 * The inputs a careless or hostile client sends, against the all-in-one
 * gateway in front of a mock OpenAI upstream, over raw HTTP/1.1 and over
 * cleartext HTTP/2 (the SDKs would refuse to send most of them). Each gets
 * its precise 4xx in OpenAI's error envelope, the upstream sees nothing, and
 * the gateway keeps serving, on the same kept-alive connection or session.
 */
import { Agent } from "node:http";
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMockOpenAI, type MockOpenAI } from "./support/mock-openai-upstream.js";
import { startAllInOne } from "./support/mesh.js";
import { errorEnvelopeOf, sendH2, sendRaw, type Answer } from "./support/raw-http.js";

const BODY_LIMIT = 2 * 1024 * 1024;
const ADMIN_KEY = "admin-key-for-hard-inputs-0123";
const MODEL = "gpt-hard";

const user = (content: string) => ({ role: "user", content });
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: MODEL, messages: [user("Hi")], ...extra });
/** `depth` nested empty arrays, for splicing into a body as a field's value. */
const deepArrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const utf8Bytes = (before: string, bytes: number[], after: string) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);

interface HardInput {
  name: string;
  path?: string;
  body: string | Buffer;
  status: number;
  code: string | null;
  param: string | null;
  /** What the message must say. */
  message: RegExp;
}

const toolCall = { id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } };

const HARD_INPUTS: HardInput[] = [
  { name: "malformed JSON", body: `{"model":"${MODEL}","messages":[`, status: 400, code: "invalid_json", param: null, message: /could not parse the JSON body/ },
  { name: "an empty body", body: "", status: 400, code: "invalid_json", param: null, message: /empty/ },
  { name: "a JSON array instead of an object", body: `[${chat()}]`, status: 400, code: "invalid_type", param: null, message: /must be a JSON object/ },
  { name: "messages of the wrong type", body: chat({ messages: "Hi" }), status: 400, code: null, param: "messages", message: /expected an array, got a string/ },
  { name: "temperature of the wrong type", body: chat({ temperature: "hot" }), status: 400, code: null, param: "temperature", message: /expected a number/ },
  { name: "stream of the wrong type", body: chat({ stream: "yes" }), status: 400, code: null, param: "stream", message: /expected a boolean/ },
  { name: "content of the wrong type", body: chat({ messages: [{ role: "user", content: 42 }] }), status: 400, code: null, param: "messages[0].content", message: /messages\[0\]\.content/ },
  { name: "missing messages", body: JSON.stringify({ model: MODEL }), status: 400, code: null, param: "messages", message: /Missing required parameter: 'messages'/ },
  { name: "empty messages", body: chat({ messages: [] }), status: 400, code: null, param: "messages", message: /non-empty array/ },
  { name: "missing model", body: JSON.stringify({ messages: [user("Hi")] }), status: 400, code: null, param: "model", message: /Missing required parameter: 'model'/ },
  {
    name: "arrays nested 10,000 deep in an unknown field",
    body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"x_deep":${deepArrays(10_000)}}`,
    status: 400,
    code: "json_too_deep",
    param: "x_deep",
    message: /nested more than 128 levels deep \(at 'x_deep'\)/,
  },
  {
    name: "objects nested 10,000 deep inside a message",
    body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi","x":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}]}`,
    status: 400,
    code: "json_too_deep",
    param: "messages",
    message: /nested more than 128 levels deep/,
  },
  {
    name: "invalid UTF-8",
    body: utf8Bytes(`{"model":"${MODEL}","messages":[{"role":"user","content":"`, [0xff, 0xfe], `"}]}`),
    status: 400,
    code: "invalid_encoding",
    param: null,
    message: /not valid UTF-8/,
  },
  {
    name: "an overlong UTF-8 encoding of '/'",
    body: utf8Bytes(`{"model":"${MODEL}","messages":[{"role":"user","content":"`, [0xc0, 0xaf], `"}]}`),
    status: 400,
    code: "invalid_encoding",
    param: null,
    message: /not valid UTF-8/,
  },
  { name: "a model with path characters", body: chat({ model: "../../admin/config" }), status: 404, code: "model_not_found", param: "model", message: /'\.\.\/\.\.\/admin\/config' does not exist/ },
  { name: "a model with URL characters", body: chat({ model: `${MODEL}/../${MODEL}?x=1#y` }), status: 404, code: "model_not_found", param: "model", message: /does not exist/ },
  { name: "a model 10 KB long", body: chat({ model: "m".repeat(10 * 1024) }), status: 400, code: null, param: "model", message: /longer than 256 characters/ },
  { name: "an unknown role", body: chat({ messages: [user("Hi"), { role: "wizard", content: "x" }] }), status: 400, code: null, param: "messages[1].role", message: /'wizard' is not one of/ },
  {
    name: "a tool result for an unknown tool call id",
    body: chat({ messages: [user("Hi"), { role: "assistant", content: null, tool_calls: [toolCall] }, { role: "tool", tool_call_id: "call_2", content: "42" }] }),
    status: 400,
    code: null,
    param: "messages[2].tool_call_id",
    message: /"call_2" is not the id of a tool call in an earlier assistant message/,
  },
  {
    name: "a tool result with no tool call before it",
    body: chat({ messages: [user("Hi"), { role: "tool", tool_call_id: "call_1", content: "42" }] }),
    status: 400,
    code: null,
    param: "messages[1].tool_call_id",
    message: /not the id of a tool call/,
  },
  { name: "n: 0", body: chat({ n: 0 }), status: 400, code: null, param: "n", message: /expected an integer >= 1, got 0/ },
  { name: "a negative max_tokens", body: chat({ max_tokens: -5 }), status: 400, code: null, param: "max_tokens", message: /expected an integer >= 1, got -5/ },
  { name: "a negative max_completion_tokens", body: chat({ max_completion_tokens: -1 }), status: 400, code: null, param: "max_completion_tokens", message: /got -1/ },
  {
    name: "a duplicate top-level key",
    body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"model":"other"}`,
    status: 400,
    code: "duplicate_key",
    param: "model",
    message: /key "model" twice/,
  },
  {
    name: "a duplicate key inside a message",
    body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"},{"role":"user","content":"a","content":"b"}]}`,
    status: 400,
    code: "duplicate_key",
    param: "messages[1].content",
    message: /key "content" twice/,
  },
  {
    name: "a duplicate key spelt with an escape",
    body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"mode\\u006c":"other"}`,
    status: 400,
    code: "duplicate_key",
    param: "model",
    message: /key "model" twice/,
  },
  // The same shared body parsing guards the other JSON endpoints.
  {
    name: "a duplicate key in an embeddings request",
    path: "/v1/embeddings",
    body: '{"model":"embed-hard","input":"a","input":"b"}',
    status: 400,
    code: "duplicate_key",
    param: "input",
    message: /key "input" twice/,
  },
  {
    name: "10,000-deep nesting in an embeddings request",
    path: "/v1/embeddings",
    body: `{"model":"embed-hard","input":${deepArrays(10_000)}}`,
    status: 400,
    code: "json_too_deep",
    param: "input",
    message: /nested more than 128 levels/,
  },
  {
    name: "a duplicate key in an admin request",
    path: "/admin/config/validate",
    body: '{"document":"models: []","document":"x"}',
    status: 400,
    code: "duplicate_key",
    param: "document",
    message: /key "document" twice/,
  },
  {
    name: "10,000-deep nesting in an admin request",
    path: "/admin/config/validate",
    body: `{"document":${deepArrays(10_000)}}`,
    status: 400,
    code: "json_too_deep",
    param: "document",
    message: /nested more than 128 levels/,
  },
];

let mock: MockOpenAI;
let gateway: { url: string; close(graceMs?: number): Promise<void> };

beforeAll(async () => {
  mock = await startMockOpenAI();
  gateway = await startAllInOne(
    `
providers:
  - { name: upstream, adapter: openai, base_url: "${mock.url}" }
models:
  - name: ${MODEL}
    targets: [{ provider: upstream, model: gpt-4o-mini }]
  - name: embed-hard
    targets: [{ provider: upstream, model: text-embedding-3-small }]
server:
  body_limit_bytes: ${BODY_LIMIT}
`,
    { LLMMESH_ADMIN_KEY: ADMIN_KEY },
  );
});

afterAll(async () => {
  await gateway?.close(1000);
  await mock?.close();
});

beforeEach(() => mock.reset());

interface Input {
  path?: string;
  body: string | Buffer | Readable;
  headers?: Record<string, string>;
}

/** An input as a request: chat completions unless it says otherwise, with the admin key (which also opens /admin). */
const requestOf = (input: Input) => ({
  path: input.path ?? "/v1/chat/completions",
  body: input.body,
  headers: { authorization: `Bearer ${ADMIN_KEY}`, ...input.headers },
});

const send = (input: Input, agent?: Agent) => sendRaw(gateway.url, { ...requestOf(input), agent });

/** A normal chat request, sent by `sendIt` and answered by the upstream: the gateway is still healthy. */
async function expectHealthy<A extends Answer>(sendIt: (input: Input) => Promise<A>): Promise<A> {
  const before = mock.requests.length;
  const answer = await sendIt({ body: chat({ messages: [user("still there?")] }) });
  expect(answer.status).toBe(200);
  expect((JSON.parse(answer.text) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe("You said: still there?");
  expect(mock.requests.length).toBe(before + 1);
  return answer;
}

function expectRefusal(answer: Answer, input: HardInput): void {
  expect({ status: answer.status, error: errorEnvelopeOf(answer) }).toEqual({
    status: input.status,
    error: { message: expect.stringMatching(input.message), type: "invalid_request_error", code: input.code, param: input.param },
  });
  expect(answer.headers["content-type"]).toBe("application/json");
}

describe("hard inputs, each on a fresh connection", () => {
  it.each(HARD_INPUTS)("$name → $status $code $param", async (input) => {
    expectRefusal(await send(input), input);
    expect(mock.requests).toEqual([]);
    await expectHealthy(send);
  });
});

describe("hard inputs, one after another on one kept-alive connection", () => {
  it("answers every one on the same connection, and then a normal request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reused: boolean[] = [];
      for (const input of HARD_INPUTS) {
        const answer = await send(input, agent);
        expectRefusal(answer, input);
        reused.push(answer.reusedSocket);
      }
      expect(mock.requests).toEqual([]);
      reused.push((await expectHealthy((input) => send(input, agent))).reusedSocket);
      // Only the first request opened the connection.
      expect(reused).toEqual([false, ...HARD_INPUTS.map(() => true)]);
    } finally {
      agent.destroy();
    }
  });
});

/** A chat body of about `length` bytes. */
const tooLarge = (length: number) => `{"model":"${MODEL}","messages":[{"role":"user","content":"${"a".repeat(length)}"}]}`;

/** The same 20 MB chat body as a stream of 64 KB pieces: no Content-Length, so only counting can refuse it. */
function tooLargeStream(): Readable {
  const piece = "a".repeat(64 * 1024);
  return Readable.from(
    (function* () {
      yield `{"model":"${MODEL}","messages":[{"role":"user","content":"`;
      for (let sent = 0; sent < 20 * 1024 * 1024; sent += piece.length) yield piece;
      yield '"}]}';
    })(),
  );
}

const TOO_LARGE: HardInput = {
  name: "20 MB",
  body: "",
  status: 413,
  code: "request_too_large",
  param: null,
  message: new RegExp(`limit is ${BODY_LIMIT} bytes`),
};

describe("body size", () => {
  it("refuses a 20 MB body with Content-Length before reading it, and closes that connection", async () => {
    const answer = await send({ body: tooLarge(20 * 1024 * 1024) });
    expectRefusal(answer, TOO_LARGE);
    expect(answer.headers.connection).toBe("close");
    expect(mock.requests).toEqual([]);
    await expectHealthy(send);
  });

  it("refuses a 20 MB chunked body once it passes the limit", async () => {
    expectRefusal(await send({ body: tooLargeStream() }), TOO_LARGE);
    expect(mock.requests).toEqual([]);
    await expectHealthy(send);
  });

  it("serves a body just under the configured limit, a base64 image, unchanged", async () => {
    const image = `data:image/png;base64,${Buffer.alloc(1_400_000, 7).toString("base64")}`;
    const content = [
      { type: "text", text: "What is this?" },
      { type: "image_url", image_url: { url: image } },
    ];
    const body = chat({ messages: [{ role: "user", content }] });
    expect(Buffer.byteLength(body)).toBeGreaterThan(BODY_LIMIT * 0.85);
    expect(Buffer.byteLength(body)).toBeLessThan(BODY_LIMIT);
    const answer = await send({ body });
    expect(answer.status).toBe(200);
    expect((mock.requests[0]?.body as { messages: unknown }).messages).toEqual([{ role: "user", content }]);
  });
});

describe("hard inputs over HTTP/2 (cleartext, prior knowledge), all on one session", () => {
  let session: ClientHttp2Session;
  const sendOnSession = (input: Input) => sendH2(session, requestOf(input));

  beforeAll(() => {
    // Room to queue a whole 20 MB body at once: Node's default session memory (10 MB) would refuse the client's own write.
    session = connect(gateway.url, { maxSessionMemory: 64 });
  });
  afterAll(() => session?.close());

  it("answers every one as over HTTP/1.1, then serves a normal request on the same session", async () => {
    for (const input of HARD_INPUTS) expectRefusal(await sendOnSession(input), input);
    expect(mock.requests).toEqual([]);
    await expectHealthy(sendOnSession);
  });

  it.each([
    ["with Content-Length, refused before reading it", () => tooLarge(20 * 1024 * 1024)],
    ["without Content-Length, refused once past the limit", tooLargeStream],
  ])("refuses a 20 MB body %s, and keeps the session", async (_name, body) => {
    const answer = await sendOnSession({ body: body() });
    expectRefusal(answer, TOO_LARGE);
    // The upload ends with its stream, reset without error after the answer; HTTP/2 has no connection header.
    expect(answer.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    expect(answer.headers.connection).toBeUndefined();
    expect(mock.requests).toEqual([]);
    await expectHealthy(sendOnSession);
  });

  it("was one session throughout: never closed, nor told to go away", () => {
    expect({ closed: session.closed, destroyed: session.destroyed }).toEqual({ closed: false, destroyed: false });
  });
});

describe("what is not a hard input", () => {
  it("passes nesting right at the limit (128 levels, the body itself the first) through to the upstream", async () => {
    const depth = 128 - 1;
    const answer = await send({ body: `{"model":"${MODEL}","messages":[{"role":"user","content":"Hi"}],"x_deep":${deepArrays(depth)}}` });
    expect(answer.status).toBe(200);
    expect(JSON.stringify((mock.requests[0]?.body as { x_deep: unknown }).x_deep)).toBe(deepArrays(depth));
  });

  it("passes the same key in different objects, and tool results answering earlier calls", async () => {
    const messages = [
      user("Hi"),
      { role: "assistant", content: null, tool_calls: [toolCall, { ...toolCall, id: "call_2" }] },
      { role: "tool", tool_call_id: "call_2", content: "2" },
      { role: "tool", tool_call_id: "call_1", content: "1" },
      user("and now?"),
    ];
    const answer = await send({ body: chat({ messages, metadata: { model: "x", messages: "y" } }) });
    expect(answer.status).toBe(200);
    expect((mock.requests[0]?.body as { messages: unknown }).messages).toEqual(messages);
  });
});
