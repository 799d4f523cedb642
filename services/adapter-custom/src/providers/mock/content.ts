import { create } from "@bufbuild/protobuf";
import { UsageSchema, type ChatRequest, type Message, type Usage } from "@llmmesh/proto";

/** The text of a message: its string content, or its text parts joined with spaces. */
export function messageText(message: Message): string {
  const { content } = message;
  if (content.case === "text") return content.value;
  if (content.case === "parts") {
    return content.value.parts
      .flatMap((part) => (part.part.case === "text" ? [part.part.value] : []))
      .join(" ");
  }
  return "";
}

/** The text of the last user message, or "". */
export function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i];
    if (message?.role === "user") return messageText(message);
  }
  return "";
}

/** The mock's answer text: the configured reply, else an echo of the last user message. */
export function replyText(request: ChatRequest, fixedReply: string | undefined): string {
  if (fixedReply !== undefined) return fixedReply;
  const text = lastUserText(request).trim();
  return text === "" ? "Mock reply." : `Mock reply to: ${text}`;
}

/** The mock's token count: whitespace-separated words. Deterministic and good enough for accounting tests. */
export function wordCount(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** Prompt tokens of a chat request: the words of every message's text. */
export function promptTokens(request: ChatRequest): number {
  return request.messages.reduce((sum, message) => sum + wordCount(messageText(message)), 0);
}

/** A Usage with its total. */
export function usageOf(prompt: number, completion: number): Usage {
  return create(UsageSchema, {
    promptTokens: BigInt(prompt),
    completionTokens: BigInt(completion),
    totalTokens: BigInt(prompt + completion),
  });
}
