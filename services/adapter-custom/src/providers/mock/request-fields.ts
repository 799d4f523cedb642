/**
 * What the mock model can do with each field of a chat request. It is a
 * native protocol: a field it cannot express is refused with a 400 naming
 * the field (never silently dropped), and a few are translated.
 *
 * - Expressed: model, messages (every role; text and text parts), tools of
 *   type `function`, every `tool_choice` mode and a named function,
 *   `parallel_tool_calls` (it makes one call either way), `n`, `max_tokens`,
 *   `max_completion_tokens`, `stream_options.include_usage`.
 * - Accepted without effect: `temperature`, `top_p`, `seed`,
 *   `presence_penalty`, `frequency_penalty` (the mock is deterministic, so
 *   any sampling setting gives its one answer), `user` and `metadata`
 *   (labels), `store: false`.
 * - Translated: `stop` (the reply ends before the first stop sequence),
 *   `response_format` (`json_object`: `{"reply": text}`; `json_schema`: a
 *   value built from the schema), legacy `functions`/`function_call`
 *   (answered as `message.function_call`, streamed as `delta.function_call`).
 * - Refused: `logprobs: true`, `top_logprobs`, `logit_bias`,
 *   `reasoning_effort` (the mock does not reason), `store: true` (it keeps
 *   nothing), content parts other than text, tools of other types, other
 *   `tool_choice` forms, and every field it does not know, at any level.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import type { ChatRequest } from "@llmmesh/proto";

/** OpenAI's own code for a parameter a model does not support. */
const UNSUPPORTED_PARAMETER = "unsupported_parameter";

/** Top-level keys the mock reads from `extraJson` itself: the legacy function-calling fields. */
const LEGACY_KEYS: readonly string[] = ["functions", "function_call"];

/** A legacy function the request offers, and how it may be called. */
export interface LegacyFunctions {
  readonly functions: readonly FunctionDefinitionLike[];
  /** "auto", "none", or the name of the function to call. */
  readonly call: string;
}

/** The parts of a legacy function declaration the mock uses. */
export interface FunctionDefinitionLike {
  readonly name: string;
  readonly parametersJson: string | undefined;
}

/**
 * Throws the 400 for the first field of `request` the mock cannot express;
 * returns the legacy functions the request offers, if any.
 */
export function checkRequestFields(request: ChatRequest, provider: string): LegacyFunctions | undefined {
  const refuse = (param: string, why = "") => unsupported(param, provider, why);
  if (request.logprobs === true) throw refuse("logprobs");
  if (request.topLogprobs !== undefined) throw refuse("top_logprobs");
  if (request.logitBiasJson !== undefined && request.logitBiasJson !== "{}") throw refuse("logit_bias");
  if (request.reasoningEffort !== undefined) throw refuse("reasoning_effort", "the mock does not reason");
  if (request.store === true) throw refuse("store", "the mock keeps nothing");
  request.messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    unknownKey(message.extraJson, param, refuse);
    if (message.content.case === "parts") {
      message.content.value.parts.forEach((part, j) => {
        if (part.part.case !== "text") throw refuse(`${param}.content[${j}]`, "the mock reads text parts only");
      });
    }
    message.toolCalls.forEach((call, j) => unknownKey(call.extraJson, `${param}.tool_calls[${j}]`, refuse));
  });
  request.tools.forEach((tool, i) => {
    const param = `tools[${i}]`;
    if (tool.type !== "function") throw refuse(`${param}.type`, `the mock calls function tools only, not '${tool.type}'`);
    unknownKey(tool.extraJson, param, refuse);
    if (tool.function !== undefined) unknownKey(tool.function.extraJson, `${param}.function`, refuse);
  });
  if (request.toolChoice?.choice.case === "otherJson") throw refuse("tool_choice", "the mock knows auto, none, required and a named function");
  if (request.responseFormat !== undefined) unknownKey(request.responseFormat.extraJson, "response_format", refuse);
  const extra = unknownKey(request.extraJson, "", refuse, LEGACY_KEYS);
  return extra === undefined ? undefined : legacyFunctions(extra, provider);
}

/**
 * Throws for the first key of a stored `extraJson` that carries a value and
 * is not `allowed` (an explicit null, empty list or empty object only says
 * "not set"). Returns the parsed object when it has any keys.
 */
function unknownKey(
  extraJson: string,
  param: string,
  refuse: (param: string) => ConnectError,
  allowed: readonly string[] = [],
): Record<string, unknown> | undefined {
  if (extraJson === "") return undefined;
  const extra = JSON.parse(extraJson) as Record<string, unknown>;
  for (const key of Object.keys(extra)) {
    if (allowed.includes(key) || isUnset(extra[key])) continue;
    throw refuse(param === "" ? key : `${param}.${key}`);
  }
  return extra;
}

function isUnset(value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value as object).length === 0;
}

/** Reads legacy `functions` and `function_call`; a malformed one is a 400 naming it. */
function legacyFunctions(extra: Record<string, unknown>, provider: string): LegacyFunctions | undefined {
  const list = extra.functions;
  if (list === undefined || list === null) {
    if (extra.function_call !== undefined && extra.function_call !== null) throw invalid("function_call", "'function_call' needs 'functions'.", provider);
    return undefined;
  }
  if (!Array.isArray(list)) throw invalid("functions", "Invalid 'functions': expected an array.", provider);
  const functions = list.map((fn: unknown, i): FunctionDefinitionLike => {
    const record = isRecord(fn) ? fn : {};
    if (typeof record.name !== "string" || record.name === "") {
      throw invalid(`functions[${i}].name`, `Invalid 'functions[${i}].name': expected a non-empty string.`, provider);
    }
    return { name: record.name, parametersJson: isRecord(record.parameters) ? JSON.stringify(record.parameters) : undefined };
  });
  return { functions, call: legacyCall(extra.function_call, functions, provider) };
}

function legacyCall(value: unknown, functions: readonly FunctionDefinitionLike[], provider: string): string {
  if (value === undefined || value === null || value === "auto") return "auto";
  if (value === "none") return "none";
  const name = isRecord(value) ? value.name : undefined;
  if (typeof name !== "string" || !functions.some((fn) => fn.name === name)) {
    throw invalid("function_call", "Invalid 'function_call': expected 'auto', 'none' or {\"name\": <one of 'functions'>}.", provider);
  }
  return name;
}

/** The legacy function to call, or none (no functions, or `function_call: "none"`). */
export function chosenFunction(legacy: LegacyFunctions | undefined): FunctionDefinitionLike | undefined {
  if (legacy === undefined || legacy.call === "none") return undefined;
  return legacy.functions.find((fn) => fn.name === legacy.call) ?? legacy.functions[0];
}

function unsupported(param: string, provider: string, why: string): ConnectError {
  const reason = why === "" ? "" : ` (${why})`;
  return meshError(Code.InvalidArgument, `Unsupported parameter: '${param}' is not supported by provider '${provider}'${reason}.`, {
    reason: UNSUPPORTED_PARAMETER,
    param,
    provider,
  });
}

function invalid(param: string, message: string, provider: string): ConnectError {
  return meshError(Code.InvalidArgument, message, { reason: Reason.InvalidRequest, param, provider });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
