/**
 * `POST /v1/messages/count_tokens`, answered locally: the models behind the
 * gateway have different tokenizers and OpenAI has no counting endpoint, so
 * the count is an estimate of the translated request, never an upstream call.
 *
 * The estimate: text (message text, tool arguments, tool names,
 * descriptions and schemas) at ~4 characters a token, rounded up per piece
 * (the same rate the router uses to reserve rate-limit capacity), plus 3
 * tokens of framing per message, and a flat 1,600 tokens per image or PDF
 * (about what Anthropic charges for a full-size image).
 */
import type { ChatRequest, ContentPart, Message } from "@llmmesh/proto";

const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_MEDIA = 1600;

/** The estimated `input_tokens` of a request. */
export function estimateInputTokens(request: ChatRequest): number {
  let tokens = 0;
  for (const message of request.messages) tokens += messageTokens(message);
  for (const tool of request.tools) {
    const fn = tool.function;
    if (fn === undefined) continue;
    tokens += TOKENS_PER_MESSAGE + textTokens(fn.name) + textTokens(fn.description ?? "") + textTokens(fn.parametersJson ?? "");
  }
  return tokens;
}

function messageTokens(message: Message): number {
  let tokens = TOKENS_PER_MESSAGE;
  const content = message.content;
  if (content.case === "text") tokens += textTokens(content.value);
  else if (content.case === "parts") for (const part of content.value.parts) tokens += partTokens(part);
  for (const call of message.toolCalls) tokens += textTokens(call.name) + textTokens(call.arguments);
  return tokens;
}

function partTokens(part: ContentPart): number {
  switch (part.part.case) {
    case "text":
      return textTokens(part.part.value);
    case "imageUrl":
    case "file":
      return TOKENS_PER_MEDIA;
    default:
      return 0;
  }
}

function textTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}
