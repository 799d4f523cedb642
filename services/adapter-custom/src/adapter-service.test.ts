import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ConfigStore, errorDetailOf, parseConfig, Reason, silentLogger } from "@llmmesh/common";
import type { ChatChunk } from "@llmmesh/proto";
import { adapterClient, collect, failure } from "../../../test/support/adapter-client.js";
import { createCustomAdapterService } from "./index.js";
import { mockVector, vectorToBase64 } from "./providers/mock/embeddings.js";

const config = parseConfig(`
providers:
  - { name: mock, adapter: custom }
  - { name: slow, adapter: custom, protocol: mock, options: { delay_ms: 60000 } }
  - { name: canned, adapter: custom, options: { reply: "Always this.", delay_ms: 0 } }
  - { name: typo, adapter: custom, options: { delay: 5 } }
  - { name: alien, adapter: custom, protocol: carrier-pigeon }
models:
  - name: chat-default
    targets: [{ provider: mock, model: mock-small }, { provider: canned, model: canned-1 }]
  - name: chat-big
    targets: [{ provider: mock, model: mock-large }]
`);
const service = createCustomAdapterService({ config: new ConfigStore(config), logger: silentLogger });
const client = adapterClient(service);

const target = (provider = "mock", model = "mock-small") => ({ provider, model });
const chatOf = (text: string) => ({ model: "chat-default", messages: [{ role: "user", content: { case: "text" as const, value: text } }] });
const searchTool = {
  type: "function",
  function: {
    name: "search",
    parametersJson: JSON.stringify({
      type: "object",
      properties: { query: { type: "string" }, limit: { type: "integer" }, exact: { type: "boolean" }, mode: { enum: ["fast", "deep"] } },
    }),
  },
};
const searchArguments = JSON.stringify({ query: "mock", limit: 1, exact: true, mode: "fast" });

describe("mock chat", () => {
  it("answers deterministically from the last user message, with usage counted in words", async () => {
    const { chat } = await client.chat({
      target: target(),
      chat: {
        model: "chat-default",
        messages: [
          { role: "system", content: { case: "text", value: "Be brief." } },
          { role: "user", content: { case: "text", value: "What is a mesh?" } },
        ],
      },
    });
    expect(chat?.choices[0]?.message?.content).toEqual({ case: "text", value: "Mock reply to: What is a mesh?" });
    expect(chat?.choices[0]?.finishReason).toBe("stop");
    expect(chat?.model).toBe("mock-small");
    expect(chat?.id).toMatch(/^chatcmpl-mock-/);
    expect(chat?.usage).toMatchObject({ promptTokens: 6n, completionTokens: 7n, totalTokens: 13n });
  });

  it("uses a provider's fixed reply", async () => {
    const { chat } = await client.chat({ target: target("canned", "canned-1"), chat: chatOf("anything") });
    expect(chat?.choices[0]?.message?.content).toEqual({ case: "text", value: "Always this." });
  });

  it("cuts the reply at max_tokens with finish_reason length", async () => {
    const { chat } = await client.chat({ target: target(), chat: { ...chatOf("one two three"), maxTokens: 3n } });
    expect(chat?.choices[0]?.message?.content).toEqual({ case: "text", value: "Mock reply to:" });
    expect(chat?.choices[0]?.finishReason).toBe("length");
  });

  it("calls the first tool with arguments built from its schema", async () => {
    const { chat } = await client.chat({ target: target(), chat: { ...chatOf("find cats"), tools: [searchTool] } });
    const call = chat?.choices[0]?.message?.toolCalls[0];
    expect(chat?.choices[0]?.finishReason).toBe("tool_calls");
    expect(call).toMatchObject({ type: "function", name: "search", arguments: searchArguments });
    expect(call?.id).toMatch(/^call_/);
    expect(chat?.choices[0]?.message?.content.case).toBeUndefined();
  });

  it("calls the function tool_choice names, and no tool when tool_choice is none", async () => {
    const other = { type: "function", function: { name: "other" } };
    const forced = await client.chat({
      target: target(),
      chat: { ...chatOf("x"), tools: [searchTool, other], toolChoice: { choice: { case: "functionName", value: "other" } } },
    });
    expect(forced.chat?.choices[0]?.message?.toolCalls[0]).toMatchObject({ name: "other", arguments: "{}" });

    const refused = await client.chat({
      target: target(),
      chat: { ...chatOf("x"), tools: [searchTool], toolChoice: { choice: { case: "mode", value: "none" } } },
    });
    expect(refused.chat?.choices[0]?.message?.toolCalls).toHaveLength(0);
    expect(refused.chat?.choices[0]?.finishReason).toBe("stop");
  });
});

describe("mock chatStream", () => {
  it("streams the reply word by word and ends with a usage chunk", async () => {
    const chunks = await collect(client.chatStream({ target: target(), chat: chatOf("stream this please") }));

    const contents = chunks.map((c) => c.choices[0]?.delta?.content ?? "");
    expect(contents.join("")).toBe("Mock reply to: stream this please");
    expect(contents.filter((c) => c !== "")).toEqual(["Mock ", "reply ", "to: ", "stream ", "this ", "please"]);
    expect(chunks[0]?.choices[0]?.delta?.role).toBe("assistant");
    expect(chunks.at(-2)?.choices[0]?.finishReason).toBe("stop");
    const last = chunks.at(-1);
    expect(last?.choices).toHaveLength(0);
    expect(last?.usage).toMatchObject({ promptTokens: 3n, completionTokens: 6n, totalTokens: 9n });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it("streams a tool call as id and name first, then argument fragments", async () => {
    const chunks = await collect(client.chatStream({ target: target("canned", "canned-1"), chat: { ...chatOf("find"), tools: [searchTool] } }));

    const fragments = chunks.flatMap((c) => c.choices[0]?.delta?.toolCalls ?? []);
    expect(fragments[0]).toMatchObject({ index: 0n, type: "function", name: "search", arguments: "" });
    expect(fragments[0]?.id).toMatch(/^call_/);
    expect(fragments.slice(1).every((f) => f.id === undefined && f.name === undefined)).toBe(true);
    expect(fragments.length).toBeGreaterThan(3);
    expect(fragments.map((f) => f.arguments ?? "").join("")).toBe(searchArguments);
    expect(chunks.some((c) => c.choices[0]?.finishReason === "tool_calls")).toBe(true);
    expect(chunks.at(-1)?.usage).toBeDefined();
  });

  it("stops at once when the caller cancels, even mid-delay", async () => {
    const controller = new AbortController();
    const received: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const { chunk } of client.chatStream({ target: target("slow"), chat: chatOf("wait for me") }, { signal: controller.signal })) {
          if (chunk) received.push(chunk);
          controller.abort(); // the next chunk is 60 s away: only cancellation can end this in time
        }
      })(),
    );
    expect(err.code).toBe(Code.Canceled);
    expect(received).toHaveLength(1);
  });

  it("ends with DeadlineExceeded when the caller's deadline passes", async () => {
    const err = await failure(collect(client.chatStream({ target: target("slow"), chat: chatOf("too slow") }, { timeoutMs: 50 })));
    expect(err.code).toBe(Code.DeadlineExceeded);
  });
});

describe("mock embed", () => {
  it("returns deterministic unit vectors, one per input", async () => {
    const request = { target: target(), embed: { model: "e", input: { case: "texts" as const, value: { values: ["alpha", "beta", "alpha"] } } } };
    const { embed } = await client.embed(request);
    const vectors = embed?.data.map((d) => d.vector) ?? [];

    expect(vectors).toHaveLength(3);
    expect(vectors[0]).toHaveLength(8);
    expect(vectors[0]).toEqual(vectors[2]);
    expect(vectors[0]).not.toEqual(vectors[1]);
    expect(Math.hypot(...(vectors[0] ?? []))).toBeCloseTo(1, 5);
    expect((await client.embed(request)).embed?.data[1]?.vector).toEqual(vectors[1]);
    expect(embed?.usage).toMatchObject({ promptTokens: 3n, totalTokens: 3n });
  });

  it("honours dimensions and base64 (float32 little-endian, like OpenAI)", async () => {
    const { embed } = await client.embed({
      target: target(),
      embed: { model: "e", input: { case: "text", value: "alpha" }, dimensions: 5n, encodingFormat: "base64" },
    });
    const base64 = embed?.data[0]?.base64 ?? "";
    expect(base64).toBe(vectorToBase64(mockVector("alpha", 5)));
    const bytes = Buffer.from(base64, "base64");
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(mockVector("alpha", 5));
    expect(embed?.data[0]?.vector).toHaveLength(0);
  });

  it("embeds token inputs", async () => {
    const { embed } = await client.embed({ target: target(), embed: { model: "e", input: { case: "tokens", value: { tokens: [1n, 2n, 3n] } } } });
    expect(embed?.data[0]?.vector).toEqual(mockVector([1n, 2n, 3n], 8));
    expect(embed?.usage?.promptTokens).toBe(3n);
  });
});

describe("mock completions", () => {
  it("refuses legacy text completions as a feature the mock model lacks, so the router tries the next target", async () => {
    const completion = { model: "chat-default", prompt: { case: "text" as const, value: "Once upon" } };
    for (const call of [() => client.complete({ target: target(), completion }), () => collect(client.completeStream({ target: target(), completion }))]) {
      const err = await failure(call());
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe('model "mock-small" of provider "mock" does not support the completions API');
      expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UnsupportedFeature, param: "model" });
    }
  });
});

describe("listModels and probe", () => {
  it("lists the upstream models config routes to the provider", async () => {
    const { models } = await client.listModels({ provider: "mock" });
    expect(models.map((m) => m.id)).toEqual(["mock-small", "mock-large"]);
  });

  it("is always healthy", async () => {
    expect(await client.probe({ target: target() })).toMatchObject({ healthy: true });
  });
});

describe("provider config", () => {
  it.each([
    ["nowhere", /not configured/],
    ["typo", /unknown option "delay"/],
    ["alien", /protocol "carrier-pigeon"/],
  ])("refuses provider %s with FailedPrecondition", async (provider, message) => {
    const err = await failure(client.chat({ target: target(provider), chat: chatOf("hi") }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(message);
    expect(errorDetailOf(err)?.provider).toBe(provider);
  });

  it("rejects a request without a target", async () => {
    const err = await failure(client.chat({ chat: chatOf("hi") }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.InvalidRequest, param: "target.provider" });
  });
});
