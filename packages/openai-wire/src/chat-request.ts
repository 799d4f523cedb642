/**
 * `/v1/chat/completions` request bodies ⇄ `ChatRequest`.
 *
 * Lossless by construction: every top-level key is either modelled or kept
 * in `extraJson`, and so is every value the proto cannot express (an
 * explicit `null`, an empty list or map), so rendering a parsed body gives
 * back the body the client sent, minus `stream` and `stream_options`.
 */
import { create } from "@bufbuild/protobuf";
import {
  ChatRequestSchema,
  FunctionDefinitionSchema,
  ResponseFormatSchema,
  ToolChoiceSchema,
  ToolSchema,
  type ChatRequest,
  type ResponseFormat,
  type Tool,
  type ToolChoice,
} from "@llmmesh/proto";
import { WireError } from "./errors.js";
import {
  childParam,
  expectArray,
  expectBoolean,
  expectInteger,
  expectNumber,
  expectObject,
  expectString,
  ExtraFields,
  int64ToNumber,
  mergeExtra,
  parseStoredJson,
} from "./guards.js";
import { checkToolCallReferences, messageFromJson, messageToJson } from "./messages.js";
import type { ChatCompletionRequestJson, FunctionDefinitionJson, ResponseFormatJson, ToolChoiceJson, ToolJson } from "./types.js";

/** Longest model name accepted; longer ones are certainly not configured. */
const MAX_MODEL_LENGTH = 256;
/** OpenAI accepts at most four stop sequences. */
const MAX_STOP_SEQUENCES = 4;
const TOOL_CHOICE_MODES: ReadonlySet<string> = new Set(["auto", "none", "required"]);
const RESPONSE_FORMAT_TYPES: ReadonlySet<string> = new Set(["text", "json_object", "json_schema"]);

/** A parsed client request plus whether it asked for a stream. */
export interface ParsedChatRequest {
  request: ChatRequest;
  stream: boolean;
}

/**
 * Parses and validates a client's `/v1/chat/completions` body (already
 * `JSON.parse`d). Throws WireError with `param` naming the first invalid
 * field. `stream` is returned apart; `stream_options.include_usage` becomes
 * `request.includeUsage`.
 */
export function chatRequestFromJson(body: unknown): ParsedChatRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new WireError("The request body must be a JSON object.");
  }
  const json = body as Record<string, unknown>;
  const req = create(ChatRequestSchema);
  const extra = new ExtraFields();
  let stream = false;
  let hasModel = false;
  let hasMessages = false;
  for (const key of Object.keys(json)) {
    const v = json[key];
    if (v === null && key !== "model" && key !== "messages") {
      // `stream: null` and `stream_options: null` mean "not set"; any other
      // explicit null is the client's to send upstream unchanged.
      if (key !== "stream" && key !== "stream_options") extra.set(key, null);
      continue;
    }
    switch (key) {
      case "model":
        req.model = parseModel(v);
        hasModel = true;
        break;
      case "messages": {
        const list = expectArray(v, key);
        if (list.length === 0) throw new WireError("Invalid 'messages': expected a non-empty array.", key);
        req.messages = list.map((m, i) => messageFromJson(m, childParam(key, i), "request"));
        checkToolCallReferences(req.messages, key);
        hasMessages = true;
        break;
      }
      case "tools":
        req.tools = expectArray(v, key).map((t, i) => toolFromJson(t, childParam(key, i)));
        if (req.tools.length === 0) extra.set(key, []);
        break;
      case "tool_choice":
        req.toolChoice = toolChoiceFromJson(v);
        break;
      case "parallel_tool_calls":
        req.parallelToolCalls = expectBoolean(v, key);
        break;
      case "temperature":
        req.temperature = expectNumber(v, key, { min: 0, max: 2 });
        break;
      case "top_p":
        req.topP = expectNumber(v, key, { min: 0, max: 1 });
        break;
      case "max_tokens":
        req.maxTokens = expectInteger(v, key, { min: 1 });
        break;
      case "max_completion_tokens":
        req.maxCompletionTokens = expectInteger(v, key, { min: 1 });
        break;
      case "stop":
        parseStop(v, req, extra);
        break;
      case "n":
        req.n = expectInteger(v, key, { min: 1 });
        break;
      case "seed":
        req.seed = expectInteger(v, key);
        break;
      case "presence_penalty":
        req.presencePenalty = expectNumber(v, key);
        break;
      case "frequency_penalty":
        req.frequencyPenalty = expectNumber(v, key);
        break;
      case "response_format":
        req.responseFormat = responseFormatFromJson(v);
        break;
      case "logprobs":
        req.logprobs = expectBoolean(v, key);
        break;
      case "top_logprobs":
        req.topLogprobs = expectInteger(v, key, { min: 0, max: 20 });
        break;
      case "logit_bias":
        req.logitBiasJson = JSON.stringify(parseLogitBias(v));
        break;
      case "reasoning_effort":
        req.reasoningEffort = expectString(v, key);
        break;
      case "user":
        req.user = expectString(v, key);
        break;
      case "metadata":
        req.metadata = parseMetadata(v);
        if (Object.keys(req.metadata).length === 0) extra.set(key, {});
        break;
      case "store":
        req.store = expectBoolean(v, key);
        break;
      case "stream":
        stream = expectBoolean(v, key);
        break;
      case "stream_options":
        parseStreamOptions(v, req);
        break;
      default:
        extra.set(key, v);
    }
  }
  if (!hasModel) throw new WireError("Missing required parameter: 'model'.", "model");
  if (!hasMessages) throw new WireError("Missing required parameter: 'messages'.", "messages");
  req.extraJson = extra.toJson();
  return { request: req, stream };
}

function parseModel(v: unknown): string {
  const model = expectString(v, "model");
  if (model.length === 0) throw new WireError("Invalid 'model': expected a non-empty string.", "model");
  if (model.length > MAX_MODEL_LENGTH) {
    throw new WireError(`Invalid 'model': longer than ${MAX_MODEL_LENGTH} characters.`, "model");
  }
  return model;
}

function parseStop(v: unknown, req: ChatRequest, extra: ExtraFields): void {
  if (typeof v === "string") {
    req.stop = [v];
    req.stopIsString = true;
    return;
  }
  if (!Array.isArray(v)) throw new WireError(`Invalid 'stop': expected a string or an array of strings.`, "stop");
  if (v.length > MAX_STOP_SEQUENCES) {
    throw new WireError(`Invalid 'stop': at most ${MAX_STOP_SEQUENCES} sequences, got ${v.length}.`, "stop");
  }
  req.stop = v.map((s, i) => expectString(s, childParam("stop", i)));
  if (req.stop.length === 0) extra.set("stop", []);
}

function parseLogitBias(v: unknown): Record<string, unknown> {
  const bias = expectObject(v, "logit_bias");
  for (const token of Object.keys(bias)) expectNumber(bias[token], childParam("logit_bias", token));
  return bias;
}

function parseMetadata(v: unknown): Record<string, string> {
  const json = expectObject(v, "metadata");
  const out: Record<string, string> = {};
  for (const key of Object.keys(json)) {
    // Own data property even for "__proto__"; map keys are arbitrary strings.
    Object.defineProperty(out, key, {
      value: expectString(json[key], childParam("metadata", key)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function parseStreamOptions(v: unknown, req: ChatRequest): void {
  const options = expectObject(v, "stream_options");
  const include = options.include_usage;
  if (include !== undefined && include !== null) {
    req.includeUsage = expectBoolean(include, "stream_options.include_usage");
  }
}

function toolFromJson(value: unknown, param: string): Tool {
  const json = expectObject(value, param);
  const typeParam = childParam(param, "type");
  const type = expectString(json.type, typeParam);
  if (type !== "function") {
    throw new WireError(`Invalid '${typeParam}': only 'function' tools are supported, got '${type}'.`, typeParam);
  }
  const fnParam = childParam(param, "function");
  const fn = expectObject(json.function, fnParam);
  const name = expectString(fn.name, childParam(fnParam, "name"));
  if (name.length === 0) {
    throw new WireError(`Invalid '${childParam(fnParam, "name")}': expected a non-empty string.`, childParam(fnParam, "name"));
  }
  const def = create(FunctionDefinitionSchema, { name });
  // An explicit null in an optional tool field means "not set"; the proto has
  // nowhere to keep it and the upstream treats both the same.
  if (fn.description !== undefined && fn.description !== null) {
    def.description = expectString(fn.description, childParam(fnParam, "description"));
  }
  if (fn.parameters !== undefined && fn.parameters !== null) {
    def.parametersJson = JSON.stringify(expectObject(fn.parameters, childParam(fnParam, "parameters")));
  }
  if (fn.strict !== undefined && fn.strict !== null) {
    def.strict = expectBoolean(fn.strict, childParam(fnParam, "strict"));
  }
  return create(ToolSchema, { type, function: def });
}

function toolChoiceFromJson(v: unknown): ToolChoice {
  const param = "tool_choice";
  if (typeof v === "string") {
    if (!TOOL_CHOICE_MODES.has(v)) {
      throw new WireError(`Invalid '${param}': expected 'auto', 'none', 'required' or a function, got '${v}'.`, param);
    }
    return create(ToolChoiceSchema, { choice: { case: "mode", value: v } });
  }
  const json = expectObject(v, param);
  if (json.type !== "function") {
    throw new WireError(`Invalid '${param}.type': expected 'function'.`, `${param}.type`);
  }
  const fn = expectObject(json.function, `${param}.function`);
  const name = expectString(fn.name, `${param}.function.name`);
  return create(ToolChoiceSchema, { choice: { case: "functionName", value: name } });
}

function responseFormatFromJson(v: unknown): ResponseFormat {
  const param = "response_format";
  const json = expectObject(v, param);
  const type = expectString(json.type, `${param}.type`);
  if (!RESPONSE_FORMAT_TYPES.has(type)) {
    throw new WireError(
      `Invalid '${param}.type': expected 'text', 'json_object' or 'json_schema', got '${type}'.`,
      `${param}.type`,
    );
  }
  const format = create(ResponseFormatSchema, { type });
  if (type === "json_schema") {
    const schema = expectObject(json.json_schema, `${param}.json_schema`);
    expectString(schema.name, `${param}.json_schema.name`);
    format.jsonSchemaJson = JSON.stringify(schema);
  } else if (json.json_schema !== undefined && json.json_schema !== null) {
    format.jsonSchemaJson = JSON.stringify(expectObject(json.json_schema, `${param}.json_schema`));
  }
  return format;
}

/**
 * The body to send an OpenAI-compatible upstream: every modelled field plus
 * `extraJson` merged back, `model` from `req.model`. It carries no
 * `stream`/`stream_options`: the caller adds them.
 */
export function chatRequestToJson(req: ChatRequest): Record<string, unknown> {
  const out: ChatCompletionRequestJson = {
    model: req.model,
    messages: req.messages.map((m) => messageToJson(m, "request")),
  };
  if (req.tools.length > 0) out.tools = req.tools.map(toolToJson);
  if (req.toolChoice !== undefined) {
    const choice = toolChoiceToJson(req.toolChoice);
    if (choice !== undefined) out.tool_choice = choice;
  }
  if (req.parallelToolCalls !== undefined) out.parallel_tool_calls = req.parallelToolCalls;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.topP !== undefined) out.top_p = req.topP;
  if (req.maxTokens !== undefined) out.max_tokens = int64ToNumber(req.maxTokens);
  if (req.maxCompletionTokens !== undefined) out.max_completion_tokens = int64ToNumber(req.maxCompletionTokens);
  if (req.stop.length > 0) out.stop = req.stopIsString && req.stop.length === 1 ? req.stop[0] : [...req.stop];
  if (req.n !== undefined) out.n = int64ToNumber(req.n);
  if (req.seed !== undefined) out.seed = int64ToNumber(req.seed);
  if (req.presencePenalty !== undefined) out.presence_penalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) out.frequency_penalty = req.frequencyPenalty;
  if (req.responseFormat !== undefined) out.response_format = responseFormatToJson(req.responseFormat);
  if (req.logprobs !== undefined) out.logprobs = req.logprobs;
  if (req.topLogprobs !== undefined) out.top_logprobs = int64ToNumber(req.topLogprobs);
  if (req.logitBiasJson !== undefined) out.logit_bias = parseStoredJson(req.logitBiasJson) as Record<string, number>;
  if (req.reasoningEffort !== undefined) out.reasoning_effort = req.reasoningEffort;
  if (req.user !== undefined) out.user = req.user;
  if (Object.keys(req.metadata).length > 0) out.metadata = { ...req.metadata };
  if (req.store !== undefined) out.store = req.store;
  return mergeExtra(out, req.extraJson);
}

function toolToJson(tool: Tool): ToolJson {
  const fn = tool.function;
  const def: FunctionDefinitionJson = { name: fn?.name ?? "" };
  if (fn?.description !== undefined) def.description = fn.description;
  if (fn?.parametersJson !== undefined) def.parameters = parseStoredJson(fn.parametersJson) as Record<string, unknown>;
  if (fn?.strict !== undefined) def.strict = fn.strict;
  return { type: "function", function: def };
}

function toolChoiceToJson(choice: ToolChoice): ToolChoiceJson | undefined {
  const c = choice.choice;
  if (c.case === "mode") return c.value as ToolChoiceJson;
  if (c.case === "functionName") return { type: "function", function: { name: c.value } };
  return undefined;
}

function responseFormatToJson(format: ResponseFormat): ResponseFormatJson {
  const out: ResponseFormatJson = { type: format.type };
  if (format.jsonSchemaJson !== undefined) out.json_schema = parseStoredJson(format.jsonSchemaJson) as Record<string, unknown>;
  return out;
}
