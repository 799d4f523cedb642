/**
 * `/v1/chat/completions` request bodies ⇄ `ChatRequest`.
 *
 * Lossless by construction: every top-level key is either modelled or kept
 * in `extraJson`, and so is every value the proto cannot express (an
 * explicit `null`, an empty list or map), so rendering a parsed body gives
 * back the body the client sent, minus `stream` and `stream_options` (of
 * which only keys other than `include_usage` are kept, under `stream_options`).
 */
import { create } from "@bufbuild/protobuf";
import {
  ChatRequestSchema,
  FunctionDefinitionSchema,
  ResponseFormatSchema,
  ToolChoiceSchema,
  ToolSchema,
  type ChatRequest,
  type FunctionDefinition,
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
  expectObject,
  expectString,
  ExtraFields,
  hasOnlyKeys,
  int64ToNumber,
  mergeExtra,
  parseStoredJson,
} from "./guards.js";
import { nullKept, readFields, type FieldReaders } from "./fields.js";
import { checkToolCallReferences, messageFromJson, messageToJson } from "./messages.js";
import { checkStreamOptionsNeedStream, parseModel, readSharedField, writeSharedFields } from "./shared-fields.js";
import type { ChatCompletionRequestJson, FunctionDefinitionJson, ResponseFormatJson, ToolChoiceJson, ToolJson } from "./types.js";

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
      case "max_tokens":
        req.maxTokens = expectInteger(v, key, { min: 1 });
        break;
      case "max_completion_tokens":
        req.maxCompletionTokens = expectInteger(v, key, { min: 1 });
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
      case "reasoning_effort":
        req.reasoningEffort = expectString(v, key);
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
      default:
        if (!readSharedField(req, key, v, extra)) extra.set(key, v);
    }
  }
  if (!hasModel) throw new WireError("Missing required parameter: 'model'.", "model");
  if (!hasMessages) throw new WireError("Missing required parameter: 'messages'.", "messages");
  checkStreamOptionsNeedStream(json, stream);
  req.extraJson = extra.toJson();
  return { request: req, stream };
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

/**
 * Tools of type `function` are modelled and checked; other types (`custom`,
 * and whatever OpenAI adds) pass through with their definition in
 * `extraJson`, for upstreams that know them (native adapters refuse them).
 */
const TOOL_READERS: FieldReaders<Tool> = {
  type: (m, v, p) => { m.type = expectString(v, p); },
  function: (m, v, p) => { m.function = functionDefinitionFromJson(v, p); },
};

/** An explicit null in an optional field is kept, so the upstream sees it as sent. */
const FUNCTION_READERS: FieldReaders<FunctionDefinition> = {
  name: (m, v, p) => {
    m.name = expectString(v, p);
    if (m.name.length === 0) throw new WireError(`Invalid '${p}': expected a non-empty string.`, p);
  },
  description: nullKept((m, v, p) => { m.description = expectString(v, p); }),
  parameters: nullKept((m, v, p) => { m.parametersJson = JSON.stringify(expectObject(v, p)); }),
  strict: nullKept((m, v, p) => { m.strict = expectBoolean(v, p); }),
};

function toolFromJson(value: unknown, param: string): Tool {
  const tool = readFields(expectObject(value, param), create(ToolSchema), TOOL_READERS, param);
  const typeParam = childParam(param, "type");
  if (tool.type === "") throw new WireError(`Missing required parameter: '${typeParam}'.`, typeParam);
  if (tool.type === "function" && tool.function === undefined) {
    const fnParam = childParam(param, "function");
    throw new WireError(`Missing required parameter: '${fnParam}'.`, fnParam);
  }
  return tool;
}

function functionDefinitionFromJson(value: unknown, param: string): FunctionDefinition {
  const fn = readFields(expectObject(value, param), create(FunctionDefinitionSchema), FUNCTION_READERS, param);
  if (fn.name === "") {
    const nameParam = childParam(param, "name");
    throw new WireError(`Missing required parameter: '${nameParam}'.`, nameParam);
  }
  return fn;
}

/**
 * `"auto"`/`"none"`/`"required"` and `{"type":"function","function":{"name"}}`
 * are modelled; any other object (`allowed_tools`, `custom`, or a named
 * function with more keys) is kept whole, for the upstream to judge.
 */
function toolChoiceFromJson(v: unknown): ToolChoice {
  const param = "tool_choice";
  if (typeof v === "string") {
    if (!TOOL_CHOICE_MODES.has(v)) {
      throw new WireError(`Invalid '${param}': expected 'auto', 'none', 'required' or a function, got '${v}'.`, param);
    }
    return create(ToolChoiceSchema, { choice: { case: "mode", value: v } });
  }
  const json = expectObject(v, param);
  const type = expectString(json.type, `${param}.type`);
  if (type === "function") {
    const fn = expectObject(json.function, `${param}.function`);
    const name = expectString(fn.name, `${param}.function.name`);
    if (hasOnlyKeys(json, ["type", "function"]) && hasOnlyKeys(fn, ["name"])) {
      return create(ToolChoiceSchema, { choice: { case: "functionName", value: name } });
    }
  }
  return create(ToolChoiceSchema, { choice: { case: "otherJson", value: JSON.stringify(json) } });
}

/** `json_schema` is required for type `json_schema`; other keys and explicit nulls are kept. */
const RESPONSE_FORMAT_READERS: FieldReaders<ResponseFormat> = {
  type: (m, v, p) => {
    m.type = expectString(v, p);
    if (!RESPONSE_FORMAT_TYPES.has(m.type)) {
      throw new WireError(`Invalid '${p}': expected 'text', 'json_object' or 'json_schema', got '${m.type}'.`, p);
    }
  },
  json_schema: nullKept((m, v, p) => {
    const schema = expectObject(v, p);
    m.jsonSchemaJson = JSON.stringify(schema);
  }),
};

function responseFormatFromJson(v: unknown): ResponseFormat {
  const param = "response_format";
  const format = readFields(expectObject(v, param), create(ResponseFormatSchema), RESPONSE_FORMAT_READERS, param);
  if (format.type === "") throw new WireError(`Missing required parameter: '${param}.type'.`, `${param}.type`);
  if (format.type === "json_schema") {
    const schemaParam = `${param}.json_schema`;
    if (format.jsonSchemaJson === undefined) throw new WireError(`Missing required parameter: '${schemaParam}'.`, schemaParam);
    expectString((JSON.parse(format.jsonSchemaJson) as Record<string, unknown>).name, `${schemaParam}.name`);
  }
  return format;
}

/**
 * The body to send an OpenAI-compatible upstream: every modelled field plus
 * `extraJson` merged back, `model` from `req.model`. It carries no `stream`
 * and no `stream_options.include_usage`: the caller sets them (stream options
 * the client sent besides `include_usage` are there, for a streamed call).
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
  writeSharedFields(req, out);
  if (req.maxTokens !== undefined) out.max_tokens = int64ToNumber(req.maxTokens);
  if (req.maxCompletionTokens !== undefined) out.max_completion_tokens = int64ToNumber(req.maxCompletionTokens);
  if (req.responseFormat !== undefined) out.response_format = responseFormatToJson(req.responseFormat);
  if (req.logprobs !== undefined) out.logprobs = req.logprobs;
  if (req.topLogprobs !== undefined) out.top_logprobs = int64ToNumber(req.topLogprobs);
  if (req.reasoningEffort !== undefined) out.reasoning_effort = req.reasoningEffort;
  if (Object.keys(req.metadata).length > 0) out.metadata = { ...req.metadata };
  if (req.store !== undefined) out.store = req.store;
  return mergeExtra(out, req.extraJson);
}

function toolToJson(tool: Tool): ToolJson {
  const out: ToolJson = { type: tool.type };
  const fn = tool.function;
  if (fn !== undefined) {
    const def: FunctionDefinitionJson = { name: fn.name };
    if (fn.description !== undefined) def.description = fn.description;
    if (fn.parametersJson !== undefined) def.parameters = parseStoredJson(fn.parametersJson) as Record<string, unknown>;
    if (fn.strict !== undefined) def.strict = fn.strict;
    out.function = mergeExtra(def, fn.extraJson);
  }
  return mergeExtra(out, tool.extraJson);
}

function toolChoiceToJson(choice: ToolChoice): ToolChoiceJson | undefined {
  const c = choice.choice;
  if (c.case === "mode") return c.value as ToolChoiceJson;
  if (c.case === "functionName") return { type: "function", function: { name: c.value } };
  if (c.case === "otherJson") return parseStoredJson(c.value) as ToolChoiceJson;
  return undefined;
}

function responseFormatToJson(format: ResponseFormat): ResponseFormatJson {
  const out: ResponseFormatJson = { type: format.type };
  if (format.jsonSchemaJson !== undefined) out.json_schema = parseStoredJson(format.jsonSchemaJson) as Record<string, unknown>;
  return mergeExtra(out, format.extraJson);
}
