/**
 * `@langchain/openai`'s ChatOpenAI against the all-in-one gateway, compared
 * with the same class talking to the mock OpenAI upstream directly: invoke,
 * stream, and tool calling through bindTools (whole and streamed).
 */
import { ChatOpenAI } from "@langchain/openai";
import { AIMessageChunk, HumanMessage, SystemMessage, ToolMessage, type AIMessage } from "@langchain/core/messages";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, KEYS, NATIVE_MODEL, startMatrix, UPSTREAM_KEY, withoutIds, type Matrix } from "../support/openai-matrix.js";

let matrix: Matrix;
beforeAll(async () => {
  matrix = await startMatrix();
});
afterAll(() => matrix?.close());
afterEach(() => matrix.upstream.reset());

/** ChatOpenAI through the gateway, or (`direct`) straight to the mock upstream. */
function chatModel(direct: boolean, model = CHAT_MODEL): ChatOpenAI {
  return new ChatOpenAI({
    model,
    apiKey: direct ? UPSTREAM_KEY : KEYS.all,
    configuration: { baseURL: direct ? matrix.upstream.url : matrix.baseURL },
    maxRetries: 0,
    temperature: 0,
  });
}

/** What a user reads from a message, without ids (which differ per call). */
function essentials(message: AIMessage) {
  return withoutIds({
    content: message.content,
    tool_calls: message.tool_calls,
    usage_metadata: message.usage_metadata,
    finish_reason: message.response_metadata.finish_reason,
    model: message.response_metadata.model_name ?? message.response_metadata.model,
  });
}

async function streamed(model: { stream: ChatOpenAI["stream"] }, input: Parameters<ChatOpenAI["stream"]>[0]): Promise<{ message: AIMessageChunk; chunks: number }> {
  let message: AIMessageChunk | undefined;
  let chunks = 0;
  for await (const chunk of await model.stream(input)) {
    chunks++;
    message = message === undefined ? chunk : message.concat(chunk);
  }
  if (message === undefined) throw new Error("the stream was empty");
  return { message, chunks };
}

const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
  },
};

describe("ChatOpenAI", () => {
  const conversation = [new SystemMessage("Be brief."), new HumanMessage("What is a mesh?")];

  it("invokes as against the upstream itself", async () => {
    const viaMesh = await chatModel(false).invoke(conversation);
    const straight = await chatModel(true).invoke(conversation);
    expect(essentials(viaMesh)).toEqual(essentials(straight));
    expect(viaMesh.content).toBe("You said: What is a mesh?");
    expect(viaMesh.usage_metadata?.total_tokens).toBeGreaterThan(0);
  });

  it("streams as against the upstream itself", async () => {
    const viaMesh = await streamed(chatModel(false), conversation);
    const straight = await streamed(chatModel(true), conversation);
    expect(viaMesh.chunks).toBe(straight.chunks);
    expect(viaMesh.chunks).toBeGreaterThan(2);
    expect(essentials(viaMesh.message)).toEqual(essentials(straight.message));
    expect(viaMesh.message.content).toBe("You said: What is a mesh?");
  });

  it("calls tools bound with bindTools, whole and streamed, and reads the tool's answer back", async () => {
    const question = [new HumanMessage("Weather in Rome?")];
    const viaMesh = await chatModel(false).bindTools([WEATHER_TOOL]).invoke(question);
    const straight = await chatModel(true).bindTools([WEATHER_TOOL]).invoke(question);
    expect(essentials(viaMesh)).toEqual(essentials(straight));
    expect(viaMesh.tool_calls).toEqual([{ name: "get_weather", args: { city: "Weather in Rome?", days: 42 }, id: expect.any(String), type: "tool_call" }]);

    const streamedCall = await streamed(chatModel(false).bindTools([WEATHER_TOOL], { tool_choice: "get_weather" }), question);
    expect(streamedCall.message.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Weather in Rome?", days: 42 } });
    expect(matrix.upstream.requests.at(-1)?.body).toMatchObject({ tool_choice: { type: "function", function: { name: "get_weather" } } });

    // The tool's result goes back as a tool message; the model then answers in text.
    const call = viaMesh.tool_calls?.[0];
    const followUp = await chatModel(false).invoke([...question, viaMesh, new ToolMessage({ content: '{"temp":18}', tool_call_id: call?.id ?? "" })]);
    expect(followUp.content).toBe("You said: Weather in Rome?");
  });

  it("talks to the native provider through the same gateway", async () => {
    const answer = await chatModel(false, NATIVE_MODEL).invoke([new HumanMessage("hello")]);
    expect(answer.content).toBe("Mock reply to: hello");
    const { message } = await streamed(chatModel(false, NATIVE_MODEL), [new HumanMessage("hello")]);
    expect(message.content).toBe("Mock reply to: hello");
  });
});
