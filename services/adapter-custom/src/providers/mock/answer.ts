import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { ChatChunkSchema, ChatResponseSchema, type ChatChunk, type ChatRequest, type ChatResponse, type Usage } from "@llmmesh/proto";
import { promptTokens, replyText, usageOf, wordCount } from "./content.js";
import { chosenFunction, type LegacyFunctions } from "./request-fields.js";
import { argumentFragments, chooseTool, mockArguments } from "./tools.js";

/** Most alternatives (`n`) the mock produces. */
const MAX_CHOICES = 8;
const SYSTEM_FINGERPRINT = "fp_llmmesh_mock";

/** One deterministic answer, rendered whole (`toResponse`) or as stream chunks (`toChunks`). */
export interface MockAnswer {
  readonly id: string;
  readonly created: bigint;
  readonly model: string;
  /** How many alternatives (text answers only; a tool call is one choice). */
  readonly choices: number;
  readonly text: string;
  readonly finishReason: "stop" | "length" | "tool_calls" | "function_call";
  readonly toolCall: { readonly id: string; readonly name: string; readonly arguments: string } | undefined;
  /** A legacy `functions` call, answered as `message.function_call`. */
  readonly functionCall?: { readonly name: string; readonly arguments: string };
  readonly usage: Usage;
}

/**
 * Answers a chat request the way a model would, deterministically: a tool
 * call when tools are offered (and not refused with tool_choice "none"), a
 * legacy function call when `functions` are, else the reply text (as JSON
 * when `response_format` asks for it), ended before the first `stop`
 * sequence and cut to `max_completion_tokens`/`max_tokens` words.
 */
export function mockAnswer(model: string, request: ChatRequest, fixedReply: string | undefined, legacy?: LegacyFunctions): MockAnswer {
  const base = {
    id: `chatcmpl-mock-${randomBytes(12).toString("hex")}`,
    created: BigInt(Math.floor(Date.now() / 1000)),
    model,
  };
  const prompt = promptTokens(request);
  const tool = chooseTool(request);
  if (tool !== undefined) {
    const args = mockArguments(tool.parametersJson);
    return {
      ...base,
      choices: 1,
      text: "",
      finishReason: "tool_calls",
      toolCall: { id: `call_mock_${randomBytes(8).toString("hex")}`, name: tool.name, arguments: args },
      usage: usageOf(prompt, argumentFragments(args).length),
    };
  }
  const fn = chosenFunction(legacy);
  if (fn !== undefined) {
    const args = mockArguments(fn.parametersJson);
    return {
      ...base,
      choices: 1,
      text: "",
      finishReason: "function_call",
      toolCall: undefined,
      functionCall: { name: fn.name, arguments: args },
      usage: usageOf(prompt, argumentFragments(args).length),
    };
  }
  const choices = Math.min(MAX_CHOICES, Math.max(1, Number(request.n ?? 1n)));
  const limit = request.maxCompletionTokens ?? request.maxTokens;
  let text = beforeStop(formatted(request, replyText(request, fixedReply)), request.stop);
  let finishReason: MockAnswer["finishReason"] = "stop";
  if (limit !== undefined && wordCount(text) > Number(limit)) {
    text = (text.match(/\S+/g) ?? []).slice(0, Math.max(0, Number(limit))).join(" ");
    finishReason = "length";
  }
  return { ...base, choices, text, finishReason, toolCall: undefined, usage: usageOf(prompt, wordCount(text) * choices) };
}

/** The reply in the requested `response_format`: JSON for `json_object`, a value of the schema for `json_schema`. */
function formatted(request: ChatRequest, text: string): string {
  const format = request.responseFormat;
  if (format?.type === "json_object") return JSON.stringify({ reply: text });
  if (format?.type === "json_schema" && format.jsonSchemaJson !== undefined) {
    const schema = (JSON.parse(format.jsonSchemaJson) as { schema?: unknown }).schema;
    return mockArguments(schema === undefined ? undefined : JSON.stringify(schema));
  }
  return text;
}

/** The text up to the first occurrence of any stop sequence, as a model stops there. */
function beforeStop(text: string, stop: readonly string[]): string {
  let end = text.length;
  for (const sequence of stop) {
    if (sequence === "") continue;
    const at = text.indexOf(sequence);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}

/** The answer as one ChatResponse. */
export function toResponse(answer: MockAnswer): ChatResponse {
  const { toolCall, functionCall } = answer;
  const message = toolCall
    ? { role: "assistant", toolCalls: [{ id: toolCall.id, type: "function", name: toolCall.name, arguments: toolCall.arguments }] }
    : functionCall
      ? { role: "assistant", functionCallJson: JSON.stringify(functionCall) }
      : { role: "assistant", content: { case: "text" as const, value: answer.text } };
  return create(ChatResponseSchema, {
    id: answer.id,
    created: answer.created,
    model: answer.model,
    systemFingerprint: SYSTEM_FINGERPRINT,
    choices: Array.from({ length: answer.choices }, (_, index) => ({ index: BigInt(index), message, finishReason: answer.finishReason })),
    usage: answer.usage,
  });
}

/**
 * The answer as stream chunks, as OpenAI sends them: a role chunk, then the
 * text word by word (or the tool call's id and name, then its arguments in
 * fragments), a chunk with the finish reason, and last a usage chunk with no choices.
 */
export function* toChunks(answer: MockAnswer): Generator<ChatChunk> {
  const chunk = (index: number, delta: ChunkDelta, finishReason?: string): ChatChunk =>
    create(ChatChunkSchema, {
      id: answer.id,
      created: answer.created,
      model: answer.model,
      systemFingerprint: SYSTEM_FINGERPRINT,
      choices: [{ index: BigInt(index), delta, finishReason }],
    });
  const { toolCall, functionCall } = answer;
  if (toolCall) {
    yield chunk(0, { role: "assistant", toolCalls: [{ index: 0n, id: toolCall.id, type: "function", name: toolCall.name, arguments: "" }] });
    for (const fragment of argumentFragments(toolCall.arguments)) yield chunk(0, { toolCalls: [{ index: 0n, arguments: fragment }] });
    yield chunk(0, {}, answer.finishReason);
  } else if (functionCall) {
    yield chunk(0, { role: "assistant", functionCallJson: JSON.stringify({ name: functionCall.name, arguments: "" }) });
    for (const fragment of argumentFragments(functionCall.arguments)) yield chunk(0, { functionCallJson: JSON.stringify({ arguments: fragment }) });
    yield chunk(0, {}, answer.finishReason);
  } else {
    const indexes = Array.from({ length: answer.choices }, (_, index) => index);
    for (const index of indexes) yield chunk(index, { role: "assistant", content: "" });
    for (const word of answer.text.split(/(?<= )/)) {
      if (word === "") continue;
      for (const index of indexes) yield chunk(index, { content: word });
    }
    for (const index of indexes) yield chunk(index, {}, answer.finishReason);
  }
  yield create(ChatChunkSchema, {
    id: answer.id,
    created: answer.created,
    model: answer.model,
    systemFingerprint: SYSTEM_FINGERPRINT,
    choices: [],
    usage: answer.usage,
  });
}

/** The fields of a Delta the mock sets. */
interface ChunkDelta {
  role?: string;
  content?: string;
  toolCalls?: Array<{ index: bigint; id?: string; type?: string; name?: string; arguments?: string }>;
  functionCallJson?: string;
}
