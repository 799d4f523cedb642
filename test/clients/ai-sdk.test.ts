/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai`'s chat-completions model)
 * against the all-in-one gateway, compared with the same provider talking to
 * the mock OpenAI upstream directly: generateText, streamText, tool calls
 * (whole and streamed) and a tool round trip over two steps.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool, type LanguageModel } from "ai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, KEYS, NATIVE_MODEL, startMatrix, UPSTREAM_KEY, withoutIds, type Matrix } from "../support/openai-matrix.js";

let matrix: Matrix;
beforeAll(async () => {
  matrix = await startMatrix();
});
afterAll(() => matrix?.close());
afterEach(() => matrix.upstream.reset());

/** The chat-completions model through the gateway, or (`direct`) straight to the mock upstream. */
function chatModel(direct: boolean, model = CHAT_MODEL): LanguageModel {
  const provider = direct
    ? createOpenAI({ baseURL: matrix.upstream.url, apiKey: UPSTREAM_KEY })
    : createOpenAI({ baseURL: matrix.baseURL, apiKey: KEYS.all });
  return provider.chat(model);
}

const weatherInput = jsonSchema<{ city: string; days?: number }>({
  type: "object",
  properties: { city: { type: "string" }, days: { type: "integer" } },
  required: ["city"],
});
/** A tool the model may call; the caller runs it. */
const weatherTool = tool({ description: "Weather for a city", inputSchema: weatherInput });
/** The same tool, run by the SDK itself. */
const weatherToolRun = tool({ description: "Weather for a city", inputSchema: weatherInput, execute: async ({ city }) => `Sunny in ${city}` });

/** What a user reads from a result, without ids (which differ per call). */
function essentials(result: { text: string; finishReason: string; usage: unknown; toolCalls: unknown[] }) {
  return withoutIds({
    text: result.text,
    finishReason: result.finishReason,
    usage: result.usage,
    toolCalls: (result.toolCalls as Array<{ toolName: string; input: unknown }>).map(({ toolName, input }) => ({ toolName, input })),
  });
}

describe("ai + @ai-sdk/openai", () => {
  const system = "Be brief.";
  const messages = [{ role: "user" as const, content: "What is a mesh?" }];

  it("generateText answers as the upstream itself does", async () => {
    const viaMesh = await generateText({ model: chatModel(false), system, messages, maxRetries: 0 });
    const straight = await generateText({ model: chatModel(true), system, messages, maxRetries: 0 });
    expect(essentials(viaMesh)).toEqual(essentials(straight));
    expect(viaMesh.text).toBe("You said: What is a mesh?");
    expect(viaMesh.usage.totalTokens).toBeGreaterThan(0);
    expect(viaMesh.response.headers?.["x-llmmesh-served-by"]).toBe(`upstream/${CHAT_MODEL}`);
  });

  it("streamText streams as the upstream itself does", async () => {
    const collect = async (direct: boolean) => {
      const result = streamText({ model: chatModel(direct), system, messages, maxRetries: 0 });
      const parts: string[] = [];
      for await (const text of result.textStream) parts.push(text);
      return { parts, text: await result.text, finishReason: await result.finishReason, usage: await result.usage, toolCalls: await result.toolCalls };
    };
    const viaMesh = await collect(false);
    const straight = await collect(true);
    expect(viaMesh.parts).toEqual(straight.parts);
    expect(viaMesh.parts.length).toBeGreaterThan(1);
    expect(essentials(viaMesh)).toEqual(essentials(straight));
    // The SDK asks for usage in streams; the gateway passes it on.
    expect(viaMesh.usage.totalTokens).toBeGreaterThan(0);
  });

  it("returns tool calls, whole and streamed", async () => {
    const prompt = "Weather in Cairo?";
    const viaMesh = await generateText({ model: chatModel(false), prompt, tools: { get_weather: weatherTool }, maxRetries: 0 });
    const straight = await generateText({ model: chatModel(true), prompt, tools: { get_weather: weatherTool }, maxRetries: 0 });
    expect(essentials(viaMesh)).toEqual(essentials(straight));
    expect(viaMesh.finishReason).toBe("tool-calls");
    expect(viaMesh.toolCalls.map((c) => [c.toolName, c.input])).toEqual([["get_weather", { city: prompt, days: 42 }]]);

    const streamed = streamText({ model: chatModel(false), prompt, tools: { get_weather: weatherTool }, toolChoice: "required", maxRetries: 0 });
    const deltas: string[] = [];
    for await (const part of streamed.fullStream) if (part.type === "tool-input-delta") deltas.push(part.delta);
    const calls = await streamed.toolCalls;
    expect(calls.map((c) => [c.toolName, c.input])).toEqual([["get_weather", { city: prompt, days: 42 }]]);
    expect(deltas.length).toBeGreaterThan(1);
    expect(matrix.upstream.requests.at(-1)?.body).toMatchObject({ tool_choice: "required", stream: true });
  });

  it("runs a tool and answers with its result over two steps", async () => {
    const result = await generateText({
      model: chatModel(false),
      prompt: "Weather in Cairo?",
      tools: { get_weather: weatherToolRun },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.toolResults.map((r) => r.output)).toEqual(["Sunny in Weather in Cairo?"]);
    // The second request carried the tool result back as a `tool` message.
    const second = matrix.upstream.requests.at(-1)?.body as { messages: Array<{ role: string; content: unknown }> };
    expect(second.messages.at(-1)).toMatchObject({ role: "tool", content: "Sunny in Weather in Cairo?" });
  });

  it("talks to the native provider through the same gateway", async () => {
    const whole = await generateText({ model: chatModel(false, NATIVE_MODEL), prompt: "hello", maxRetries: 0 });
    expect(whole.text).toBe("Mock reply to: hello");
    const streamed = streamText({ model: chatModel(false, NATIVE_MODEL), prompt: "hello", maxRetries: 0 });
    expect(await streamed.text).toBe("Mock reply to: hello");
  });
});
