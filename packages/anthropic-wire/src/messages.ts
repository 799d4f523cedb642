/**
 * Messages-API turns → chat messages. One Anthropic turn can become several
 * chat messages: a user turn's `tool_result` blocks become `tool` messages
 * (first, since OpenAI wants them right after the assistant's tool calls),
 * and what else it holds becomes one `user` message after them.
 *
 * Tool ids pass through unchanged (`toolu_...` or `call_...`), so a
 * `tool_result` always names the id the upstream issued.
 */
import { create } from "@bufbuild/protobuf";
import {
  ContentPartSchema,
  ContentPartsSchema,
  FilePartSchema,
  ImageUrlSchema,
  MessageSchema,
  ToolCallSchema,
  type ContentPart,
  type Message,
  type ToolCall,
} from "@llmmesh/proto";
import { childParam, expectArray, expectBoolean, expectObject, expectString, WireError, type JsonObject } from "@llmmesh/openai-wire";
import { acceptsRemovedInputs, type ApiVersion } from "./version.js";

const ROLES: ReadonlySet<string> = new Set(["user", "assistant", "system"]);
const IMAGE_TYPES: ReadonlySet<string> = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
/** Prepended to a failed tool's output: OpenAI's tool messages have no `is_error`. */
const TOOL_ERROR_PREFIX = "Error: ";

/** Parses `messages` (already known to be an array) into chat messages, checking how tool calls and results pair up. */
export function messagesFromJson(list: readonly unknown[], version: ApiVersion): Message[] {
  if (list.length === 0) throw new WireError("messages: at least one message is required", "messages");
  const out: Message[] = [];
  /** The tool_use ids of the previous assistant turn that still await their tool_result. */
  let pending: Set<string> | undefined;
  let pendingParam = "";
  for (let i = 0; i < list.length; i++) {
    const param = childParam("messages", i);
    const turn = expectObject(list[i], param);
    const roleParam = childParam(param, "role");
    const role = expectString(turn.role, roleParam);
    if (!ROLES.has(role)) throw new WireError(`${roleParam}: expected 'user', 'assistant' or 'system', got '${role}'`, roleParam);
    const mayBeEmpty = role === "assistant" && i === list.length - 1;
    const blocks = contentBlocks(turn.content, childParam(param, "content"), mayBeEmpty);

    if (role === "user") {
      const answered = userTurn(blocks, version, out, pending);
      if (pending !== undefined) checkAllAnswered(pending, answered, pendingParam);
      pending = undefined;
      continue;
    }
    if (pending !== undefined) checkAllAnswered(pending, new Set(), pendingParam);
    pending = undefined;
    if (role === "system") {
      out.push(textTurn("system", blocks));
      continue;
    }
    const message = assistantTurn(blocks);
    out.push(message);
    if (message.toolCalls.length > 0) {
      pending = new Set(message.toolCalls.map((call) => call.id));
      pendingParam = param;
    }
  }
  if (pending !== undefined) checkAllAnswered(pending, new Set(), pendingParam);
  return out;
}

/** One content block, with `param` locating it for errors. */
interface Block {
  readonly json: JsonObject;
  readonly type: string;
  readonly param: string;
}

/** A turn's content: a string stays a string (it maps to a string), an array becomes blocks. */
function contentBlocks(content: unknown, param: string, mayBeEmpty: boolean): Block[] | string {
  if (typeof content === "string") {
    if (content === "" && !mayBeEmpty) throw emptyContent(param);
    return content;
  }
  const list = expectArray(content, param);
  if (list.length === 0 && !mayBeEmpty) throw emptyContent(param);
  return list.map((item, i) => {
    const blockParam = childParam(param, i);
    const json = expectObject(item, blockParam);
    return { json, type: expectString(json.type, childParam(blockParam, "type")), param: blockParam };
  });
}

function emptyContent(param: string): WireError {
  return new WireError(`${param}: messages must have non-empty content, except for an optional final assistant message`, param);
}

/** A user turn: its tool results as `tool` messages, then the rest as one `user` message. Returns the ids answered. */
function userTurn(blocks: Block[] | string, version: ApiVersion, out: Message[], pending: Set<string> | undefined): Set<string> {
  const answered = new Set<string>();
  if (typeof blocks === "string") {
    out.push(create(MessageSchema, { role: "user", content: { case: "text", value: blocks } }));
    return answered;
  }
  const parts: ContentPart[] = [];
  for (const block of blocks) {
    if (block.type === "tool_result") {
      const message = toolResult(block, pending);
      const id = message.toolCallId ?? "";
      if (answered.has(id)) {
        const p = childParam(block.param, "tool_use_id");
        throw new WireError(`${p}: tool_use_id '${id}' is answered by more than one tool_result block`, p);
      }
      answered.add(id);
      out.push(message);
    } else {
      parts.push(userPart(block, version));
    }
  }
  if (parts.length > 0) {
    out.push(create(MessageSchema, { role: "user", content: { case: "parts", value: create(ContentPartsSchema, { parts }) } }));
  }
  return answered;
}

function userPart(block: Block, version: ApiVersion): ContentPart {
  switch (block.type) {
    case "text":
      if (!acceptsRemovedInputs(version) && Array.isArray(block.json.citations) && block.json.citations.length > 0) {
        const p = childParam(block.param, "citations");
        throw new WireError(`${p}: citations on user text blocks are not accepted in anthropic-version ${version}`, p);
      }
      return textPart(block);
    case "image":
      return imagePart(block);
    case "document":
      return documentPart(block);
    default:
      throw unsupportedBlock(block, "user");
  }
}

/** An assistant turn: text blocks as content, tool_use blocks as tool calls; thinking blocks are dropped. */
function assistantTurn(blocks: Block[] | string): Message {
  const message = create(MessageSchema, { role: "assistant" });
  if (typeof blocks === "string") {
    message.content = { case: "text", value: blocks };
    return message;
  }
  const parts: ContentPart[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case "text":
        parts.push(textPart(block));
        break;
      case "tool_use":
        message.toolCalls.push(toolUse(block, message.toolCalls));
        break;
      case "thinking":
      case "redacted_thinking":
        // Reasoning from an earlier Anthropic answer: chat messages have no
        // place for it, and the model behind the gateway could not read it.
        break;
      default:
        throw unsupportedBlock(block, "assistant");
    }
  }
  // Only text, or no blocks at all (an empty final turn): keep the array as the client sent it.
  if (parts.length > 0 || message.toolCalls.length === 0) {
    message.content = { case: "parts", value: create(ContentPartsSchema, { parts }) };
  }
  return message;
}

/** A system turn (allowed in messages since 2026-10-21's SDKs): text only. */
function textTurn(role: string, blocks: Block[] | string): Message {
  if (typeof blocks === "string") return create(MessageSchema, { role, content: { case: "text", value: blocks } });
  const parts = blocks.map((block) => {
    if (block.type !== "text") throw unsupportedBlock(block, role);
    return textPart(block);
  });
  return create(MessageSchema, { role, content: { case: "parts", value: create(ContentPartsSchema, { parts }) } });
}

/** `system` (a string or text blocks) as the first chat message. */
export function systemFromJson(value: unknown): Message {
  if (typeof value === "string") return create(MessageSchema, { role: "system", content: { case: "text", value } });
  const blocks = expectArray(value, "system").map((item, i): Block => {
    const param = childParam("system", i);
    const json = expectObject(item, param);
    return { json, type: expectString(json.type, childParam(param, "type")), param };
  });
  return textTurn("system", blocks);
}

function textPart(block: Block): ContentPart {
  const p = childParam(block.param, "text");
  const text = expectString(block.json.text, p);
  if (text === "") throw new WireError(`${p}: text content blocks must be non-empty`, p);
  // cache_control and citations are hints for Anthropic's serving; the text is what the model reads.
  return create(ContentPartSchema, { part: { case: "text", value: text } });
}

function imagePart(block: Block): ContentPart {
  const sourceParam = childParam(block.param, "source");
  const source = expectObject(block.json.source, sourceParam);
  const sourceType = expectString(source.type, childParam(sourceParam, "type"));
  let url: string;
  if (sourceType === "base64") {
    const mediaParam = childParam(sourceParam, "media_type");
    const mediaType = expectString(source.media_type, mediaParam);
    if (!IMAGE_TYPES.has(mediaType)) {
      throw new WireError(`${mediaParam}: expected one of ${[...IMAGE_TYPES].join(", ")}, got '${mediaType}'`, mediaParam);
    }
    url = `data:${mediaType};base64,${nonEmpty(source.data, childParam(sourceParam, "data"))}`;
  } else if (sourceType === "url") {
    url = nonEmpty(source.url, childParam(sourceParam, "url"));
  } else {
    throw unsupportedSource(sourceParam, sourceType, "'base64' and 'url' image sources");
  }
  return create(ContentPartSchema, { part: { case: "imageUrl", value: create(ImageUrlSchema, { url }) } });
}

/** PDFs become OpenAI file parts (inline data); plain-text documents become text. */
function documentPart(block: Block): ContentPart {
  const sourceParam = childParam(block.param, "source");
  const source = expectObject(block.json.source, sourceParam);
  const sourceType = expectString(source.type, childParam(sourceParam, "type"));
  const dataParam = childParam(sourceParam, "data");
  if (sourceType === "text") {
    return create(ContentPartSchema, { part: { case: "text", value: nonEmpty(source.data, dataParam) } });
  }
  if (sourceType !== "base64") throw unsupportedSource(sourceParam, sourceType, "'base64' (PDF) and 'text' document sources");
  const mediaParam = childParam(sourceParam, "media_type");
  if (source.media_type !== "application/pdf") throw new WireError(`${mediaParam}: expected 'application/pdf'`, mediaParam);
  const title = block.json.title;
  const filename = typeof title === "string" && title !== "" ? title : "document.pdf";
  const file = create(FilePartSchema, { fileData: `data:application/pdf;base64,${nonEmpty(source.data, dataParam)}`, filename });
  return create(ContentPartSchema, { part: { case: "file", value: file } });
}

function toolUse(block: Block, earlier: readonly ToolCall[]): ToolCall {
  const idParam = childParam(block.param, "id");
  const id = nonEmpty(block.json.id, idParam);
  if (earlier.some((call) => call.id === id)) throw new WireError(`${idParam}: tool_use ids must be unique, '${id}' is repeated`, idParam);
  const name = nonEmpty(block.json.name, childParam(block.param, "name"));
  const input = expectObject(block.json.input, childParam(block.param, "input"));
  return create(ToolCallSchema, { id, type: "function", name, arguments: JSON.stringify(input) });
}

/** A `tool_result` block as a `tool` message answering one of the previous turn's tool calls. */
function toolResult(block: Block, pending: Set<string> | undefined): Message {
  const idParam = childParam(block.param, "tool_use_id");
  const id = nonEmpty(block.json.tool_use_id, idParam);
  if (pending === undefined || !pending.has(id)) {
    throw new WireError(
      `${idParam}: unexpected tool_use_id '${id}': each tool_result block must answer a tool_use block of the previous assistant message`,
      idParam,
    );
  }
  const isErrorValue = block.json.is_error;
  const isError = isErrorValue !== undefined && isErrorValue !== null && expectBoolean(isErrorValue, childParam(block.param, "is_error"));
  const message = create(MessageSchema, { role: "tool", toolCallId: id });
  const content = block.json.content;
  const contentParam = childParam(block.param, "content");
  if (content === undefined || content === null || typeof content === "string") {
    const text = typeof content === "string" ? content : "";
    message.content = { case: "text", value: isError ? `${TOOL_ERROR_PREFIX}${text}` : text };
    return message;
  }
  const parts = expectArray(content, contentParam).map((item, i) => {
    const param = childParam(contentParam, i);
    const json = expectObject(item, param);
    const type = expectString(json.type, childParam(param, "type"));
    // OpenAI tool messages carry text only: an image here has nowhere to go.
    if (type !== "text") throw unsupportedBlock({ json, type, param }, "tool_result");
    return textPart({ json, type, param });
  });
  if (parts.length === 0) {
    // An empty list is no output, as an absent content is; OpenAI wants at least a string.
    message.content = { case: "text", value: isError ? TOOL_ERROR_PREFIX : "" };
    return message;
  }
  if (isError) parts.unshift(create(ContentPartSchema, { part: { case: "text", value: TOOL_ERROR_PREFIX.trimEnd() } }));
  message.content = { case: "parts", value: create(ContentPartsSchema, { parts }) };
  return message;
}

function checkAllAnswered(pending: Set<string>, answered: Set<string>, param: string): void {
  const missing = [...pending].filter((id) => !answered.has(id));
  if (missing.length > 0) {
    throw new WireError(
      `${param}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(", ")}. Each tool_use block must have a corresponding tool_result block in the next message.`,
      param,
    );
  }
}

function nonEmpty(value: unknown, param: string): string {
  const text = expectString(value, param);
  if (text === "") throw new WireError(`${param}: must be a non-empty string`, param);
  return text;
}

function unsupportedBlock(block: Block, where: string): WireError {
  const p = childParam(block.param, "type");
  return new WireError(`${p}: '${block.type}' blocks are not supported in ${where} content by this gateway`, p);
}

function unsupportedSource(param: string, type: string, supported: string): WireError {
  const p = childParam(param, "type");
  return new WireError(`${p}: '${type}' sources are not supported by this gateway; use ${supported}`, p);
}
