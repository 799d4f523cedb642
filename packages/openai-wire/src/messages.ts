/**
 * Chat messages ⇄ `Message`, shared by requests (client input, validated
 * strictly) and complete answers (upstream output, parsed leniently).
 *
 * Nulls: the proto cannot tell `"refusal": null` from a missing `refusal`.
 * In requests an explicit null is kept in `extraJson` so the upstream sees the
 * body the client sent. In answers `content` and `refusal` are always
 * rendered (null when unset), as OpenAI does, so answers from any adapter
 * have OpenAI's shape.
 */
import { create } from "@bufbuild/protobuf";
import { ContentPartsSchema, MessageSchema, ToolCallSchema, type Message, type ToolCall } from "@llmmesh/proto";
import { contentPartFromJson, contentPartToJson } from "./content-parts.js";
import { WireError } from "./errors.js";
import {
  childParam,
  expectArray,
  expectObject,
  expectString,
  ExtraFields,
  isObject,
  mergeExtra,
  parseStoredJson,
  unmodelledKeys,
  type JsonObject,
} from "./guards.js";
import type { ChatMessageJson, ToolCallJson } from "./types.js";

/** Whether a message comes from a client request or an upstream answer. */
export type MessageSide = "request" | "response";

/** Roles a client may send. */
const REQUEST_ROLES: ReadonlySet<string> = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

/** Roles whose `content` may be null or missing without tool calls. */
const NULL_CONTENT_ROLES: ReadonlySet<string> = new Set(["assistant", "function"]);

/**
 * Parses one message. Request side: every rule of the Chat Completions API
 * that a client can break is checked and reported with `param`
 * (`messages[3].tool_call_id`). Response side: only types are checked.
 */
export function messageFromJson(value: unknown, param: string, side: MessageSide): Message {
  const json = expectObject(value, param);
  const strict = side === "request";
  const msg = create(MessageSchema);
  const extra = new ExtraFields();
  let hasRole = false;
  let hasCalls = false;
  for (const key of Object.keys(json)) {
    const v = json[key];
    const p = childParam(param, key);
    switch (key) {
      case "role":
        msg.role = expectString(v, p);
        hasRole = true;
        break;
      case "content":
        if (v === null) {
          if (strict) extra.set(key, null);
        } else if (typeof v === "string") {
          msg.content = { case: "text", value: v };
        } else if (Array.isArray(v)) {
          const parts = v.map((part, i) => contentPartFromJson(part, childParam(p, i), strict));
          msg.content = { case: "parts", value: create(ContentPartsSchema, { parts }) };
        } else {
          throw new WireError(`Invalid '${p}': expected a string, an array of content parts or null.`, p);
        }
        break;
      case "name":
        if (v === null) extra.set(key, null);
        else msg.name = expectString(v, p);
        break;
      case "tool_calls":
        if (v === null) extra.set(key, null);
        else {
          msg.toolCalls = expectArray(v, p).map((call, i) => toolCallFromJson(call, childParam(p, i), strict));
          if (msg.toolCalls.length === 0) extra.set(key, []);
          else hasCalls = true;
        }
        break;
      case "tool_call_id":
        if (v === null) extra.set(key, null);
        else msg.toolCallId = expectString(v, p);
        break;
      case "refusal":
        if (v === null) {
          if (strict) extra.set(key, null);
        } else msg.refusal = expectString(v, p);
        break;
      case "function_call":
        if (v === null) extra.set(key, null);
        else {
          msg.functionCallJson = JSON.stringify(expectObject(v, p));
          hasCalls = true;
        }
        break;
      default:
        extra.set(key, v);
    }
  }
  msg.extraJson = extra.toJson();
  if (!hasRole) {
    if (strict) throw new WireError(`Missing required parameter: '${childParam(param, "role")}'.`, childParam(param, "role"));
    msg.role = "assistant";
  }
  if (strict) checkRequestMessage(msg, param, hasCalls);
  return msg;
}

/** The rules a client message must follow beyond JSON types. */
function checkRequestMessage(msg: Message, param: string, hasCalls: boolean): void {
  const roleParam = childParam(param, "role");
  if (!REQUEST_ROLES.has(msg.role)) {
    throw new WireError(
      `Invalid '${roleParam}': '${msg.role}' is not one of system, developer, user, assistant, tool, function.`,
      roleParam,
    );
  }
  if (msg.content.case === undefined && !hasCalls && !NULL_CONTENT_ROLES.has(msg.role)) {
    const p = childParam(param, "content");
    throw new WireError(`Invalid '${p}': a ${msg.role} message needs content (a string or an array of parts).`, p);
  }
  if (msg.role === "tool" && msg.toolCallId === undefined) {
    const p = childParam(param, "tool_call_id");
    throw new WireError(`Missing required parameter: '${p}' (tool messages answer a tool call).`, p);
  }
}

/**
 * Every `tool` message must answer a tool call an earlier assistant message
 * made: a reply to an unknown id is a broken history that an upstream would
 * refuse (OpenAI does) after we had already spent a round trip on it.
 * `param` names the list (`messages`).
 */
export function checkToolCallReferences(messages: readonly Message[], param: string): void {
  // Created at the first tool call: most requests have none.
  let called: Set<string> | undefined;
  for (let i = 0; i < messages.length; i++) {
    const msg = messages[i] as Message;
    if (msg.role === "assistant") {
      for (const call of msg.toolCalls) (called ??= new Set()).add(call.id);
    } else if (msg.role === "tool" && !called?.has(msg.toolCallId ?? "")) {
      const p = childParam(childParam(param, i), "tool_call_id");
      throw new WireError(
        `Invalid '${p}': ${JSON.stringify(msg.toolCallId)} is not the id of a tool call in an earlier assistant message.`,
        p,
      );
    }
  }
}

/**
 * Parses a completed tool call. Strict (client input): id, type,
 * function.name and function.arguments must all be strings. Lenient
 * (upstream answers): a missing id or type is tolerated, and arguments sent
 * as an object (some compatible servers do) are serialised. Keys we do not
 * model, at the top or inside `function`, are kept in `extraJson`.
 */
export function toolCallFromJson(value: unknown, param: string, strict: boolean): ToolCall {
  const json = expectObject(value, param);
  const fnParam = childParam(param, "function");
  const fn = expectObject(json.function, fnParam);
  const name = expectString(fn.name, childParam(fnParam, "name"));
  const call = strict
    ? create(ToolCallSchema, {
        id: expectString(json.id, childParam(param, "id")),
        type: expectString(json.type, childParam(param, "type")),
        name,
        arguments: expectString(fn.arguments, childParam(fnParam, "arguments")),
      })
    : create(ToolCallSchema, {
        id: json.id === undefined || json.id === null ? "" : expectString(json.id, childParam(param, "id")),
        type: json.type === undefined || json.type === null ? "function" : expectString(json.type, childParam(param, "type")),
        name,
        arguments: lenientArguments(fn.arguments, childParam(fnParam, "arguments")),
      });
  call.extraJson = toolCallExtra(json, fn);
  return call;
}

function lenientArguments(args: unknown, param: string): string {
  if (isObject(args)) return JSON.stringify(args);
  return args === undefined || args === null ? "" : expectString(args, param);
}

/**
 * The keys of a tool call (or of a streamed fragment of one) beyond `id`,
 * `type`, `index` and `function.{name,arguments}`, as `extraJson`: the
 * function's own under the key "function", which `mergeExtra` puts back.
 */
export function toolCallExtra(json: JsonObject, fn: JsonObject | undefined): string {
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    if (key !== "id" && key !== "type" && key !== "function" && key !== "index") extra.set(key, json[key]);
  }
  const fnExtra = fn === undefined ? undefined : unmodelledKeys(fn, ["name", "arguments"]);
  if (fnExtra !== undefined) extra.set("function", fnExtra);
  return extra.toJson();
}

/** Renders a completed tool call. */
export function toolCallToJson(call: ToolCall): ToolCallJson {
  return mergeExtra({ id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments } }, call.extraJson);
}

/**
 * Renders one message. Response side always includes `content` and
 * `refusal` (null when unset); request side omits unset fields unless the
 * client's explicit null was kept in `extraJson`.
 */
export function messageToJson(msg: Message, side: MessageSide): ChatMessageJson {
  const out: ChatMessageJson = { role: msg.role };
  const c = msg.content;
  if (c.case === "text") out.content = c.value;
  else if (c.case === "parts") out.content = c.value.parts.map(contentPartToJson);
  else if (side === "response") out.content = null;
  if (side === "request" && msg.refusal !== undefined) out.refusal = msg.refusal;
  if (msg.name !== undefined) out.name = msg.name;
  if (msg.toolCalls.length > 0) out.tool_calls = msg.toolCalls.map(toolCallToJson);
  if (msg.toolCallId !== undefined) out.tool_call_id = msg.toolCallId;
  if (msg.functionCallJson !== undefined) out.function_call = parseStoredJson(msg.functionCallJson);
  // An answer's refusal comes after its calls, as OpenAI writes it (`"content":null,"tool_calls":[...],"refusal":null`).
  if (side === "response") out.refusal = msg.refusal ?? null;
  mergeExtra(out, msg.extraJson);
  return out;
}
