import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Code, type Client } from "@connectrpc/connect";
import { collectImplementations, ConfigStore, createDirectTransport, errorDetailOf, parseConfig, Reason, serviceClient, silentLogger } from "@llmmesh/common";
import { AdapterService, type ChatChunk } from "@llmmesh/proto";
import {
  embeddingToBase64,
  mockEmbedding,
  mockReplyText,
  mockToolArguments,
  startMockOpenAI,
  type MockOpenAI,
} from "../../../test/support/mock-openai-upstream.js";
import { adapterClient, collect, failure } from "../../../test/support/adapter-client.js";
import { createOpenAIAdapter, type OpenAIAdapter } from "./index.js";

const API_KEY = "sk-test-0123456789abcdef";
const env = { MOCK_KEY: API_KEY, MOCK_ORG: "org-mesh" };

let mock: MockOpenAI;
let closedPort: number;
let store: ConfigStore;
let adapter: OpenAIAdapter;
let client: Client<typeof AdapterService>;

function configYaml(baseUrl: string): string {
  return `
providers:
  - name: up
    adapter: openai
    base_url: ${baseUrl}
    api_key: \${MOCK_KEY}
    headers: { X-Org: "\${MOCK_ORG}" }
  - name: quick
    adapter: openai
    base_url: ${baseUrl}
    api_key: \${MOCK_KEY}
    timeout_ms: 100
  - name: wrong-key
    adapter: openai
    base_url: ${baseUrl}
    api_key: sk-wrong-key-987654
  - name: down
    adapter: openai
    base_url: http://127.0.0.1:${closedPort}/v1
  - name: no-base
    adapter: openai
  - name: no-secret
    adapter: openai
    base_url: ${baseUrl}
    api_key: \${NOT_SET_ANYWHERE}
  - name: alien
    adapter: openai
    protocol: carrier-pigeon
    base_url: ${baseUrl}
`;
}

beforeAll(async () => {
  mock = await startMockOpenAI({ apiKey: API_KEY });
  closedPort = await unusedPort();
  store = new ConfigStore(parseConfig(configYaml(mock.url)));
  adapter = createOpenAIAdapter({ config: store, logger: silentLogger, env });
  client = adapterClient(adapter.service);
});

afterAll(async () => {
  await adapter.close();
  await mock.close();
});

beforeEach(() => {
  mock.reset();
  mock.streamDelayMs = 0;
});

const target = (provider = "up", model = "gpt-4o-mini") => ({ provider, model });
const userChat = (text: string) => ({ model: "client-facing-name", messages: [{ role: "user", content: { case: "text" as const, value: text } }] });
const weatherSchema = { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] };
const weatherTool = { type: "function", function: { name: "get_weather", parametersJson: JSON.stringify(weatherSchema) } };

describe("chat", () => {
  it("sends the target model with the provider's resolved key and headers, and maps the answer", async () => {
    const { chat } = await client.chat({ target: target(), chat: userChat("hello there") });

    expect(chat?.model).toBe("gpt-4o-mini");
    expect(chat?.choices[0]?.message?.content).toEqual({ case: "text", value: mockReplyText("hello there") });
    expect(chat?.choices[0]?.finishReason).toBe("stop");
    expect(chat?.usage?.promptTokens).toBe(2n);
    expect(chat?.usage?.completionTokens).toBe(BigInt(mockReplyText("hello there").split(" ").length));
    expect(chat?.id).toMatch(/^chatcmpl-/);

    const sent = mock.requests[0];
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers["x-org"]).toBe("org-mesh");
    expect(sent?.body).toMatchObject({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] });
    expect(sent?.body).not.toHaveProperty("stream");
  });

  it("returns a tool call with the upstream's arguments", async () => {
    const { chat } = await client.chat({ target: target(), chat: { ...userChat("Paris"), tools: [weatherTool] } });

    expect(chat?.choices[0]?.finishReason).toBe("tool_calls");
    const call = chat?.choices[0]?.message?.toolCalls[0];
    expect(call?.name).toBe("get_weather");
    expect(call?.arguments).toBe(mockToolArguments(weatherSchema, "Paris"));
  });
});

describe("chatStream", () => {
  it("yields the chunks as they come, always asks for usage, and ends with the usage chunk", async () => {
    const chunks = await collect(client.chatStream({ target: target(), chat: userChat("stream me a few words please") }));

    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe(mockReplyText("stream me a few words please"));
    expect(chunks.length).toBeGreaterThan(4);
    const last = chunks.at(-1);
    expect(last?.choices).toHaveLength(0);
    expect(last?.usage?.promptTokens).toBe(6n);

    // The client did not ask for usage; the adapter asks upstream anyway.
    expect(mock.requests[0]?.body).toMatchObject({ model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true } });
    expect(mock.requests[0]?.headers.accept).toBe("text/event-stream");
    // Sent with its length, as a non-streamed request is (some upstreams refuse chunked uploads).
    expect(mock.requests[0]?.headers["transfer-encoding"]).toBeUndefined();
    expect(Number(mock.requests[0]?.headers["content-length"])).toBe(Buffer.byteLength(JSON.stringify(mock.requests[0]?.body)));
  });

  it("passes tool-call fragments through so they reassemble into the upstream's arguments", async () => {
    const chunks = await collect(
      client.chatStream({ target: target(), chat: { ...userChat("Zürich, with ünïcode"), tools: [weatherTool] } }),
    );

    const fragments = chunks.flatMap((c) => c.choices[0]?.delta?.toolCalls ?? []);
    expect(fragments.length).toBeGreaterThan(3);
    expect(fragments[0]).toMatchObject({ index: 0n, type: "function", name: "get_weather", arguments: "" });
    expect(fragments[0]?.id).toMatch(/^call_/);
    expect(fragments.map((f) => f.arguments ?? "").join("")).toBe(mockToolArguments(weatherSchema, "Zürich, with ünïcode"));
    expect(chunks.some((c) => c.choices[0]?.finishReason === "tool_calls")).toBe(true);
  });

  it("treats the end of the body as the end for upstreams that never send [DONE]", async () => {
    mock.scriptNext({ kind: "no-done" });
    const chunks = await collect(client.chatStream({ target: target(), chat: userChat("no done marker") }));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(mockReplyText("no done marker"));
    expect(chunks.at(-1)?.usage).toBeDefined();
  });

  it("ends at [DONE] without waiting for the upstream to close the body", async () => {
    // Its own mock: the lingering response is cut when that mock closes, away from the shared one.
    const own = await startMockOpenAI();
    const ownStore = new ConfigStore(parseConfig(`providers: [{ name: own, adapter: openai, base_url: "${own.url}" }]`));
    const ownAdapter = createOpenAIAdapter({ config: ownStore, logger: silentLogger, env: {} });
    const ownClient = adapterClient(ownAdapter.service);
    try {
      own.scriptNext({ kind: "slow-close", ms: 60_000 }); // far beyond the test timeout: only [DONE] can end this stream
      const chunks = await collect(ownClient.chatStream({ target: target("own"), chat: userChat("done means done") }));
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(mockReplyText("done means done"));
    } finally {
      await own.close();
      await ownAdapter.close();
    }
  });

  it("turns an error event mid-stream into an upstream error after the chunks before it", async () => {
    mock.scriptNext({ kind: "stream-error", afterChunks: 2, error: { message: "model overloaded", type: "server_error", code: "overloaded" } });
    const received: ChatChunk[] = [];
    const err = await failure(collect(client.chatStream({ target: target(), chat: userChat("will fail") }), received));

    expect(received).toHaveLength(2);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("model overloaded");
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamError, provider: "up", upstreamStatus: 200, upstreamCode: "overloaded" });
  });

  it("reports an upstream that cuts the connection mid-stream as unavailable", async () => {
    mock.scriptNext({ kind: "reset", afterChunks: 2 });
    const err = await failure(collect(client.chatStream({ target: target(), chat: userChat("cut off") })));
    expect(err.code).toBe(Code.Unavailable);
    expect(errorDetailOf(err)?.reason).toBe(Reason.UpstreamUnavailable);
  });

  it("reports a stream event that is not JSON as an internal upstream error", async () => {
    mock.scriptNext({ kind: "invalid-json" });
    const err = await failure(collect(client.chatStream({ target: target(), chat: userChat("garbage") })));
    expect(err.code).toBe(Code.Internal);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamError, upstreamStatus: 200 });
  });

  it("maps an HTTP error before the stream starts", async () => {
    mock.failNext(1, { status: 503 });
    const err = await failure(collect(client.chatStream({ target: target(), chat: userChat("busy") })));
    expect(err.code).toBe(Code.Unavailable);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamError, upstreamStatus: 503 });
  });
});

describe("backpressure", () => {
  it("holds a slow reader's upstream back instead of buffering its stream, and still delivers all of it in order", async () => {
    const total = 2000;
    let written = 0;
    // 16 KiB an event: the whole answer (31 MiB) is far more than the socket buffers and undici's queue.
    const content = "x".repeat(16 * 1024);
    const upstream = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const writeMore = () => {
        while (written < total) {
          const chunk = { id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: `${written} ${content}` } }] };
          written++;
          if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) return void res.once("drain", writeMore);
        }
        res.end("data: [DONE]\n\n");
      };
      writeMore();
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const { port } = upstream.address() as AddressInfo;
    const ownStore = new ConfigStore(parseConfig(`providers: [{ name: own, adapter: openai, base_url: "http://127.0.0.1:${port}/v1" }]`));
    const ownAdapter = createOpenAIAdapter({ config: ownStore, logger: silentLogger, env: {} });
    try {
      const direct = serviceClient(AdapterService, createDirectTransport(collectImplementations((router) => router.service(AdapterService, ownAdapter.service))));
      const stream = direct.chatStream({ target: target("own"), chat: userChat("a long one") })[Symbol.asyncIterator]();
      const first = await stream.next();
      expect(first.value?.chunk?.choices[0]?.delta?.content?.startsWith("0 ")).toBe(true);
      // Let the upstream write all it can while nobody reads: until its count stops moving.
      let last = -1;
      while (written !== last && written < total) {
        last = written;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(written).toBeLessThan(total / 2);
      const numbers: number[] = [];
      for (let next = await stream.next(); !next.done; next = await stream.next()) {
        const text = next.value.chunk?.choices[0]?.delta?.content;
        if (text !== undefined) numbers.push(Number(text.split(" ")[0]));
      }
      expect(numbers).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 1));
    } finally {
      await ownAdapter.close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});

describe("cancellation", () => {
  it("closes the upstream socket when a stream's caller goes away", async () => {
    mock.streamDelayMs = 50;
    const controller = new AbortController();
    const stream = client.chatStream(
      { target: target(), chat: userChat("a long answer that takes many chunks to stream out fully") },
      { signal: controller.signal },
    );
    const aborted = mock.waitForAbort();
    const err = await failure(
      (async () => {
        for await (const _chunk of stream) controller.abort();
      })(),
    );
    await aborted;
    expect(err.code).toBe(Code.Canceled);
    expect(mock.abortedRequests).toBe(1);
  });

  it("closes the upstream socket when a non-streamed caller goes away", async () => {
    mock.scriptNext({ kind: "hang" });
    const controller = new AbortController();
    const answer = failure(client.chat({ target: target(), chat: userChat("hang on") }, { signal: controller.signal }));
    await mock.waitForRequests(1);
    controller.abort();
    await mock.waitForAbort(1);
    expect((await answer).code).toBe(Code.Canceled);
  });

  it("gives up at the caller's deadline and closes the upstream socket", async () => {
    mock.scriptNext({ kind: "hang" });
    const err = await failure(client.chat({ target: target(), chat: userChat("slow") }, { timeoutMs: 100 }));
    await mock.waitForAbort(1);
    expect(err.code).toBe(Code.DeadlineExceeded);
  });

  it("gives up after the provider's timeout_ms", async () => {
    mock.scriptNext({ kind: "hang" });
    const err = await failure(client.chat({ target: target("quick"), chat: userChat("slow") }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamTimeout, provider: "quick" });
  });
});

describe("upstream errors", () => {
  it("maps a 500 to Internal with the upstream's message and type", async () => {
    mock.failNext(1, { status: 500 });
    const err = await failure(client.chat({ target: target(), chat: userChat("boom") }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toContain("The server had an error");
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamError, upstreamStatus: 500, provider: "up", upstreamType: "server_error" });
  });

  it("maps a 429 to ResourceExhausted with retry-after in milliseconds", async () => {
    mock.failNext(1, { status: 429, headers: { "retry-after": "2" } });
    const err = await failure(client.chat({ target: target(), chat: userChat("again") }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(errorDetailOf(err)).toMatchObject({ upstreamStatus: 429, retryAfterMs: 2000n, upstreamCode: "rate_limit_exceeded" });
  });

  it("prefers OpenAI's retry-after-ms", async () => {
    mock.failNext(1, { status: 429, headers: { "retry-after": "20", "retry-after-ms": "1500" } });
    const err = await failure(client.embed({ target: target(), embed: { model: "m", input: { case: "text", value: "x" } } }));
    expect(errorDetailOf(err)?.retryAfterMs).toBe(1500n);
  });

  it("maps a 401 to Unauthenticated without ever showing the key", async () => {
    const err = await failure(client.chat({ target: target("wrong-key"), chat: userChat("let me in") }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(errorDetailOf(err)).toMatchObject({ upstreamStatus: 401, upstreamCode: "invalid_api_key", provider: "wrong-key" });
    expect(err.message).not.toContain("sk-wrong-key-987654");
  });

  it("scrubs our secrets (the key, headers from env) from messages an upstream echoes back", async () => {
    mock.failNext(1, { status: 400, body: { error: { message: `bad key ${API_KEY} for org org-mesh`, type: "invalid_request_error" } } });
    const err = await failure(client.chat({ target: target(), chat: userChat("echo") }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("bad key *** for org ***");
  });

  it("gives a clear message for an error body that is not JSON", async () => {
    mock.failNext(1, { status: 502, body: "<html>Bad Gateway</html>" });
    const err = await failure(client.chat({ target: target(), chat: userChat("proxy") }));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('provider "up" answered HTTP 502');
  });

  it("reports a 200 body that is not JSON as an internal upstream error", async () => {
    mock.scriptNext({ kind: "invalid-json" });
    const err = await failure(client.chat({ target: target(), chat: userChat("garbage") }));
    expect(err.code).toBe(Code.Internal);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamError, upstreamStatus: 200, provider: "up" });
  });

  it("maps a refused connection to Unavailable", async () => {
    const err = await failure(client.chat({ target: target("down"), chat: userChat("anyone?") }));
    expect(err.code).toBe(Code.Unavailable);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UpstreamUnavailable, provider: "down" });
    expect(err.rawMessage).toContain("connection refused");
  });
});

describe("provider config", () => {
  it.each([
    ["nowhere", /not configured/],
    ["no-base", /has no base_url/],
    ["no-secret", /NOT_SET_ANYWHERE is not set/],
    ["alien", /protocol "carrier-pigeon"/],
  ])("refuses provider %s with FailedPrecondition", async (provider, message) => {
    const err = await failure(client.chat({ target: target(provider), chat: userChat("hi") }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(message);
    expect(mock.requests).toHaveLength(0);
  });
});

describe("embed, listModels, probe", () => {
  it("returns float embeddings", async () => {
    const { embed } = await client.embed({
      target: target("up", "text-embedding-3-small"),
      embed: { model: "m", input: { case: "texts", value: { values: ["alpha", "beta"] } } },
    });
    expect(embed?.data.map((d) => d.vector)).toEqual([mockEmbedding("alpha", 8), mockEmbedding("beta", 8)]);
    expect(mock.requests[0]).toMatchObject({ path: "/v1/embeddings", body: { model: "text-embedding-3-small" } });
  });

  it("returns base64 embeddings unchanged", async () => {
    const { embed } = await client.embed({
      target: target("up", "text-embedding-3-small"),
      embed: { model: "m", input: { case: "text", value: "alpha" }, encodingFormat: "base64", dimensions: 4n },
    });
    expect(embed?.data[0]?.base64).toBe(embeddingToBase64(mockEmbedding("alpha", 4)));
  });

  it("lists the provider's models", async () => {
    const { models } = await client.listModels({ provider: "up" });
    expect(models.map((m) => m.id)).toEqual(["gpt-4o-mini", "text-embedding-3-small"]);
    expect(models[0]?.ownedBy).toBe("system");
  });

  it("probes a reachable provider as healthy and an unreachable one as not", async () => {
    expect(await client.probe({ target: target() })).toMatchObject({ healthy: true });
    const down = await client.probe({ target: target("down") });
    expect(down.healthy).toBe(false);
    expect(down.message).toContain("connection refused");
    expect((await client.probe({ target: target("wrong-key") })).healthy).toBe(false);
  });
});

describe("connection pooling", () => {
  it("reuses one kept-alive connection across requests, streams and config revisions", async () => {
    const own = await startMockOpenAI();
    const ownStore = new ConfigStore(parseConfig(`providers: [{ name: own, adapter: openai, base_url: "${own.url}" }]`));
    const ownAdapter = createOpenAIAdapter({ config: ownStore, logger: silentLogger, env: {} });
    const ownClient = adapterClient(ownAdapter.service);
    try {
      const chat = () => ownClient.chat({ target: target("own"), chat: userChat("once more") });
      const stream = () => collect(ownClient.chatStream({ target: target("own"), chat: userChat("stream once more") }));
      await chat();
      await stream();
      await chat();
      ownStore.apply(parseConfig(`providers: [{ name: own, adapter: openai, base_url: "${own.url}", timeout_ms: 5000 }]`));
      await stream();
      await chat();
      await stream();

      expect(own.requests).toHaveLength(6);
      // Sequential requests need one connection; undici may open a second while the first
      // is being released. Without reuse (or with streams closing their socket) this would be 6.
      expect(own.connections).toBeLessThanOrEqual(2);
    } finally {
      await ownAdapter.close();
      await own.close();
    }
  });

  it("gives a socket back to the pool once the rest of a stream's body after [DONE] has been read", async () => {
    const own = await startMockOpenAI();
    const ownStore = new ConfigStore(parseConfig(`providers: [{ name: own, adapter: openai, base_url: "${own.url}" }]`));
    const ownAdapter = createOpenAIAdapter({ config: ownStore, logger: silentLogger, env: {} });
    // Called directly, as in all-in-one: Connect's in-memory server aborts a call's signal once it
    // has answered, which would cut the upstream body (and its socket) before it could be drained.
    const ownClient = serviceClient(AdapterService, createDirectTransport(collectImplementations((router) => router.service(AdapterService, ownAdapter.service))));
    try {
      own.scriptNext({ kind: "slow-close", ms: 150 }); // the body ends 150 ms after [DONE]
      await collect(ownClient.chatStream({ target: target("own"), chat: userChat("linger a little") }));
      await new Promise((resolve) => setTimeout(resolve, 400));
      await ownClient.chat({ target: target("own"), chat: userChat("same socket") });
      // Dropped instead of drained, the lingering socket would be gone and this a second connection.
      expect(own.connections).toBe(1);
    } finally {
      await ownAdapter.close();
      await own.close();
    }
  });
});

/** A port nothing listens on: bound once, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
