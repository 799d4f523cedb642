/**
 * Messages-API request bodies (`POST /v1/messages` and
 * `/v1/messages/count_tokens`) → `ChatRequest`, so any model the router
 * knows can answer them.
 *
 * Every top-level field is either translated, accepted as a serving hint
 * that changes nothing about the answer, or refused with a 400 naming it:
 * unknown fields are refused as Anthropic refuses them ("Extra inputs are
 * not permitted"), and features the models behind the gateway cannot
 * deliver (extended thinking, server tools, containers) are refused by name
 * rather than silently dropped.
 */
import { create } from "@bufbuild/protobuf";
import { ChatRequestSchema, ResponseFormatSchema, type ChatRequest } from "@llmmesh/proto";
import {
  childParam,
  expectArray,
  expectBoolean,
  expectInteger,
  expectNumber,
  expectObject,
  expectString,
  WireError,
  type JsonObject,
} from "@llmmesh/openai-wire";
import { messagesFromJson, systemFromJson } from "./messages.js";
import { toolChoiceFromJson, toolsFromJson } from "./tools.js";
import { acceptsRemovedInputs, type ApiVersion } from "./version.js";

/** Which endpoint the body is for: count_tokens takes the prompt fields only. */
export type MessagesEndpoint = "create" | "count_tokens";

/** A parsed Messages request plus whether it asked for a stream. */
export interface ParsedMessagesRequest {
  request: ChatRequest;
  stream: boolean;
}

/** Longest model name accepted, as for chat completions. */
const MAX_MODEL_LENGTH = 256;

/** Fields that are hints to Anthropic's own serving (caching, routing, billing, tracing): accepted, not forwarded. */
const SERVING_HINTS: ReadonlySet<string> = new Set(["cache_control", "speed", "user_profile_id", "workspace_id"]);
/** The same, for fields only `create` takes. */
const CREATE_SERVING_HINTS: ReadonlySet<string> = new Set(["service_tier", "inference_geo", "diagnostics"]);
/** Fields only `create` takes; count_tokens refuses them as extra inputs, as Anthropic does. */
const CREATE_ONLY: ReadonlySet<string> = new Set([
  "max_tokens",
  "stream",
  "stop_sequences",
  "metadata",
  "temperature",
  "top_p",
  "top_k",
  "container",
  ...CREATE_SERVING_HINTS,
]);

/**
 * Parses and validates a Messages request body (already `JSON.parse`d).
 * Throws WireError naming the first invalid field.
 */
export function messagesRequestFromJson(body: JsonObject, version: ApiVersion, endpoint: MessagesEndpoint = "create"): ParsedMessagesRequest {
  const req = create(ChatRequestSchema);
  const extra: JsonObject = {};
  let stream = false;
  let system: unknown;
  let messages: unknown;
  let tools: unknown;
  let toolChoice: unknown;
  for (const key of Object.keys(body)) {
    const v = body[key];
    if (endpoint === "count_tokens" && CREATE_ONLY.has(key)) throw extraInput(key);
    // An explicit null is "not set" for every optional field; required ones are checked below.
    if (v === null && key !== "model" && key !== "messages" && key !== "max_tokens") continue;
    switch (key) {
      case "model":
        req.model = parseModel(v);
        break;
      case "messages":
        messages = expectArray(v, key);
        break;
      case "max_tokens":
        req.maxTokens = expectInteger(v, key, { min: 1 });
        break;
      case "system":
        system = v;
        break;
      case "tools":
        tools = v;
        break;
      case "tool_choice":
        toolChoice = v;
        break;
      case "stop_sequences":
        req.stop = expectArray(v, key).map((s, i) => expectString(s, childParam(key, i)));
        break;
      case "stream":
        stream = expectBoolean(v, key);
        break;
      case "metadata":
        parseMetadata(v, req);
        break;
      case "temperature":
        req.temperature = sampling(v, key, version, { min: 0, max: 1 });
        break;
      case "top_p":
        req.topP = sampling(v, key, version, { min: 0, max: 1 });
        break;
      case "top_k":
        // OpenAI has no top_k; OpenAI-compatible servers (vLLM, llama.cpp) take
        // it as an extra field, and OpenAI itself answers a clear 400.
        extra.top_k = Number(samplingInteger(v, key, version));
        break;
      case "output_config":
        parseOutputConfig(v, req);
        break;
      case "thinking":
        parseThinking(v);
        break;
      case "container":
        throw new WireError("container: code-execution containers are not supported by this gateway", key);
      default:
        if (SERVING_HINTS.has(key) || CREATE_SERVING_HINTS.has(key)) break;
        throw extraInput(key);
    }
  }
  if (req.model === "") throw missing("model");
  if (messages === undefined) throw missing("messages");
  if (endpoint === "create" && req.maxTokens === undefined) throw missing("max_tokens");

  if (system !== undefined) req.messages.push(systemFromJson(system));
  req.messages.push(...messagesFromJson(messages as unknown[], version));
  if (tools !== undefined) req.tools = toolsFromJson(tools);
  if (toolChoice !== undefined) {
    const parsed = toolChoiceFromJson(toolChoice, req.tools);
    req.toolChoice = parsed.choice;
    req.parallelToolCalls = parsed.parallelToolCalls;
  }
  if (Object.keys(extra).length > 0) req.extraJson = JSON.stringify(extra);
  return { request: req, stream };
}

function parseModel(v: unknown): string {
  const model = expectString(v, "model");
  if (model === "") throw new WireError("model: must be a non-empty string", "model");
  if (model.length > MAX_MODEL_LENGTH) throw new WireError(`model: longer than ${MAX_MODEL_LENGTH} characters`, "model");
  return model;
}

function missing(field: string): WireError {
  return new WireError(`${field}: Field required`, field);
}

function extraInput(field: string): WireError {
  return new WireError(`${field}: Extra inputs are not permitted`, field);
}

/** `temperature` and `top_p`: Anthropic's 0..1 range, passed on unchanged; gone since 2026-10-21. */
function sampling(v: unknown, field: string, version: ApiVersion, range: { min: number; max: number }): number {
  refuseRemovedSampling(field, version);
  return expectNumber(v, field, range);
}

function samplingInteger(v: unknown, field: string, version: ApiVersion): bigint {
  refuseRemovedSampling(field, version);
  return expectInteger(v, field, { min: 0 });
}

function refuseRemovedSampling(field: string, version: ApiVersion): void {
  if (!acceptsRemovedInputs(version)) {
    throw new WireError(`${field}: this parameter was removed in anthropic-version ${version}; send anthropic-version 2023-06-01 to use it`, field);
  }
}

/** `metadata.user_id` is OpenAI's `user`; Anthropic's metadata has no other field. */
function parseMetadata(v: unknown, req: ChatRequest): void {
  const metadata = expectObject(v, "metadata");
  for (const key of Object.keys(metadata)) {
    if (key !== "user_id") throw extraInput(childParam("metadata", key));
  }
  const user = metadata.user_id;
  if (user !== undefined && user !== null) req.user = expectString(user, "metadata.user_id");
}

/**
 * `output_config`: `effort` is OpenAI's `reasoning_effort` (passed as sent;
 * the upstream judges the value), `format` a strict JSON-schema
 * `response_format`, which is what Anthropic's structured outputs promise.
 */
function parseOutputConfig(v: unknown, req: ChatRequest): void {
  const param = "output_config";
  const config = expectObject(v, param);
  for (const key of Object.keys(config)) {
    const value = config[key];
    if (value === null || value === undefined) continue;
    const p = childParam(param, key);
    if (key === "effort") {
      req.reasoningEffort = expectString(value, p);
    } else if (key === "format") {
      const format = expectObject(value, p);
      if (format.type !== "json_schema") throw new WireError(`${childParam(p, "type")}: expected 'json_schema'`, childParam(p, "type"));
      const schema = expectObject(format.schema, childParam(p, "schema"));
      req.responseFormat = create(ResponseFormatSchema, {
        type: "json_schema",
        jsonSchemaJson: JSON.stringify({ name: "output", schema, strict: true }),
      });
    } else {
      throw extraInput(p);
    }
  }
}

/**
 * `thinking`: only `{"type":"disabled"}` is accepted. The answer could never
 * hold the thinking blocks a client asking for them expects, so anything
 * else is a 400 rather than a silent downgrade.
 */
function parseThinking(v: unknown): void {
  const thinking = expectObject(v, "thinking");
  const type = expectString(thinking.type, "thinking.type");
  if (type !== "disabled") {
    throw new WireError(`thinking.type: '${type}' is not supported by this gateway (no thinking blocks can be returned); omit 'thinking' or send {"type":"disabled"}`, "thinking.type");
  }
}
