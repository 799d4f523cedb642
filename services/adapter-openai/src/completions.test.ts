import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Code, type Client } from "@connectrpc/connect";
import { ConfigStore, errorDetailOf, parseConfig, silentLogger } from "@llmmesh/common";
import { AdapterService } from "@llmmesh/proto";
import { mockCompletionText } from "../../../test/support/mock-completions.js";
import { startMockOpenAI, type MockOpenAI } from "../../../test/support/mock-openai-upstream.js";
import { adapterClient, collect, failure } from "../../../test/support/adapter-client.js";
import { createOpenAIAdapter, type OpenAIAdapter } from "./index.js";

const API_KEY = "sk-test-0123456789abcdef";

let mock: MockOpenAI;
let adapter: OpenAIAdapter;
let client: Client<typeof AdapterService>;

beforeAll(async () => {
  mock = await startMockOpenAI({ apiKey: API_KEY });
  const config = new ConfigStore(parseConfig(`providers: [{ name: up, adapter: openai, base_url: "${mock.url}", api_key: "\${MOCK_KEY}" }]`));
  adapter = createOpenAIAdapter({ config, logger: silentLogger, env: { MOCK_KEY: API_KEY } });
  client = adapterClient(adapter.service);
});

afterAll(async () => {
  await adapter.close();
  await mock.close();
});

beforeEach(() => mock.reset());

const target = { provider: "up", model: "gpt-3.5-turbo-instruct" };
const completion = (extra: { includeUsage?: boolean } = {}) => ({
  model: "client-facing-name",
  prompt: { case: "text" as const, value: "Once upon a time" },
  maxTokens: 50n,
  extraJson: '{"min_tokens":2}',
  ...extra,
});

describe("complete", () => {
  it("posts /completions for the target model with the provider's key, and maps the answer", async () => {
    const answer = (await client.complete({ target, completion: completion() })).completion;
    expect(mock.requests).toMatchObject([
      {
        method: "POST",
        path: "/v1/completions",
        headers: { authorization: `Bearer ${API_KEY}` },
        body: { model: "gpt-3.5-turbo-instruct", prompt: "Once upon a time", max_tokens: 50, min_tokens: 2 },
      },
    ]);
    expect(answer?.choices.map((c) => [c.index, c.text, c.finishReason])).toEqual([[0n, mockCompletionText("Once upon a time", 0), "stop"]]);
    expect(answer?.usage?.promptTokens).toBe(4n);
  });

  it("maps an upstream refusal (a chat model on the completions endpoint) with its status and message", async () => {
    const message = "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?";
    mock.failNext(1, { status: 404, body: { error: { message, type: "invalid_request_error", param: "model", code: null } } });
    const err = await failure(client.complete({ target, completion: completion() }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe(message);
    expect(errorDetailOf(err)).toMatchObject({ upstreamStatus: 404, param: "model", provider: "up" });
  });
});

describe("completeStream", () => {
  it("always asks the upstream for usage and yields its chunks, ending with the usage chunk", async () => {
    const chunks = await collect(client.completeStream({ target, completion: completion({ includeUsage: false }) }));
    expect(mock.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks.map((c) => c.choices[0]?.text ?? "").join("")).toBe(mockCompletionText("Once upon a time", 0));
    expect(chunks.at(-2)?.choices[0]?.finishReason).toBe("stop");
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.totalTokens).toBeGreaterThan(0n);
  });
});
