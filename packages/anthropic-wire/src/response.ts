/**
 * `ChatResponse` → a Messages-API `message`: the first choice's text as a
 * text block (its refusal instead, when it has no text), then one `tool_use`
 * block per tool call with the arguments parsed into `input`.
 */
import type { ChatResponse, Message } from "@llmmesh/proto";
import { isObject, WireError } from "@llmmesh/openai-wire";
import { messageId, stopInfo, usageToJson, type StopInfo, type UsageJson } from "./stop-reason.js";

/** A content block of an answer. */
export type ContentBlockJson =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** A complete Messages-API answer. */
export interface MessageJson extends StopInfo {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ContentBlockJson[];
  usage: UsageJson;
}

/**
 * Renders an answer. `stopSequences` are the request's, to report which one
 * ended the answer when the upstream says so. Throws WireError when a tool
 * call's arguments are not a JSON object (the upstream's fault, not the client's).
 */
export function messageResponseToJson(res: ChatResponse, stopSequences: readonly string[]): MessageJson {
  const choice = res.choices.find((c) => c.index === 0n) ?? res.choices[0];
  const message = choice?.message;
  const content = message === undefined ? [] : contentBlocks(message);
  const end = {
    finishReason: choice?.finishReason,
    hasToolCalls: (message?.toolCalls.length ?? 0) > 0,
    refused: message !== undefined && isRefusal(message),
    stopSequences,
    choiceExtraJson: choice?.extraJson ?? "",
  };
  // Anthropic's own key order: model first.
  return {
    model: res.model,
    id: messageId(res.id),
    type: "message",
    role: "assistant",
    content,
    ...stopInfo(end),
    usage: usageToJson(res.usage),
  };
}

function contentBlocks(message: Message): ContentBlockJson[] {
  const blocks: ContentBlockJson[] = [];
  const text = messageText(message);
  if (text !== "") blocks.push({ type: "text", text });
  for (const call of message.toolCalls) {
    blocks.push({ type: "tool_use", id: call.id, name: call.name, input: toolInput(call.arguments) });
  }
  return blocks;
}

/** The answer's text: its content (a string or text parts), or else its refusal. */
function messageText(message: Message): string {
  return contentText(message) || (message.refusal ?? "");
}

function contentText(message: Message): string {
  const c = message.content;
  if (c.case === "text") return c.value;
  if (c.case === "parts") return c.value.parts.map((p) => (p.part.case === "text" ? p.part.value : "")).join("");
  return "";
}

function isRefusal(message: Message): boolean {
  return message.refusal !== undefined && message.refusal !== "" && contentText(message) === "";
}

/** Tool arguments as Anthropic's `input` object; an empty string is no arguments. */
function toolInput(args: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new WireError("The upstream's tool call arguments are not valid JSON.");
  }
  if (!isObject(parsed)) throw new WireError("The upstream's tool call arguments are not a JSON object.");
  return parsed;
}
