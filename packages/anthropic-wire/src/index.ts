/**
 * Anthropic's Messages API wire format, in one place: request bodies →
 * `ChatRequest` (so any configured model can answer), `ChatResponse` →
 * Messages answers, `ChatChunk` streams → Messages stream events, the
 * local token count, the `anthropic-version` header and the error envelope.
 *
 * Parsing throws WireError (from `@llmmesh/openai-wire`, so the gateway maps
 * both formats' validation errors the same way) whose message starts with
 * the offending field, as Anthropic's do: `messages[1].content[0].source.type: ...`.
 */
export { messagesRequestFromJson, type MessagesEndpoint, type ParsedMessagesRequest } from "./request.js";
export { messageResponseToJson, type ContentBlockJson, type MessageJson } from "./response.js";
export { MessageStreamTranslator, type MessageStreamEvent } from "./stream.js";
export { estimateInputTokens } from "./count-tokens.js";
export { anthropicErrorToJson, REQUEST_ID_HEADER, type AnthropicErrorJson } from "./errors.js";
export { VERSION_HEADER, apiVersionFromHeader, type ApiVersion } from "./version.js";
export type { StopInfo, UsageJson } from "./stop-reason.js";
