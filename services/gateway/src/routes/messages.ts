import type { Client } from "@connectrpc/connect";
import {
  apiVersionFromHeader,
  estimateInputTokens,
  messageResponseToJson,
  messagesRequestFromJson,
  MessageStreamTranslator,
  VERSION_HEADER,
  type ApiVersion,
  type MessageJson,
  type MessageStreamEvent,
} from "@llmmesh/anthropic-wire";
import { expandMessages } from "@llmmesh/common";
import type { ChatChunk, ChatRequest, ChatResponse, RouterService } from "@llmmesh/proto";
import { ApiError, ErrorType } from "../api-error.js";
import { ANTHROPIC_DIALECT } from "../dialect.js";
import type { EndpointInput, EndpointSpec } from "../endpoint.js";
import { servedHeaders } from "../served-headers.js";
import { chatCompletions, type ChatResult, type ParsedChat } from "./chat.js";
import { streamedChunks } from "./router-stream.js";
import { required } from "./required.js";

/**
 * POST /v1/messages: Anthropic's Messages API, answered by whatever model the
 * router resolves `model` to. The call is chat completions' own (same router
 * RPCs, same wait for the first streamed message so early errors keep their
 * status); only the translation in and out differs.
 */
export function messages(router: Client<typeof RouterService>): EndpointSpec<ParsedChat, ChatResult> {
  const chat = chatCompletions(router);
  return {
    readsBody: true,
    dialect: ANTHROPIC_DIALECT,
    parse: (input) => messagesRequestFromJson(input.body, apiVersion(input)),
    call: (parsed, ctx) => chat.call(parsed, ctx),
    render(result, { request }, ctx) {
      if (!result.stream) {
        return {
          kind: "json",
          body: renderMessage(required(result.response.chat, "chat"), request.stop),
          headers: servedHeaders(result.response.served, ctx),
        };
      }
      const chunks = streamedChunks(result, (chunk: ChatChunk) => chunk);
      return { kind: "events", events: messageEvents(chunks, request.stop), headers: servedHeaders(result.first.served, ctx) };
    },
  };
}

/**
 * POST /v1/messages/count_tokens: a local estimate of the translated prompt
 * (see `estimateInputTokens`). The router is asked only for the caller's
 * models, so a bad key or an unknown model get the errors Anthropic gives.
 */
export function countTokens(router: Client<typeof RouterService>): EndpointSpec<ChatRequest, number> {
  return {
    readsBody: true,
    dialect: ANTHROPIC_DIALECT,
    parse: (input) => messagesRequestFromJson(input.body, apiVersion(input), "count_tokens").request,
    async call(request, ctx) {
      const { models } = await router.listModels({}, ctx.callOptions);
      if (!models.some((m) => m.id === request.model)) {
        throw new ApiError(404, `model: ${request.model}`, ErrorType.InvalidRequest, "model_not_found", "model");
      }
      return estimateInputTokens(request);
    },
    render: (inputTokens) => ({ kind: "json", body: { input_tokens: inputTokens } }),
  };
}

function apiVersion(input: EndpointInput): ApiVersion {
  return apiVersionFromHeader(input.headers[VERSION_HEADER]);
}

function renderMessage(response: ChatResponse, stopSequences: readonly string[]): MessageJson {
  try {
    return messageResponseToJson(response, stopSequences);
  } catch (err) {
    // The answer came from the upstream: what cannot be rendered is its fault, not the client's.
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApiError(502, `The upstream's answer cannot be expressed as a message: ${reason}`, ErrorType.Api, "upstream_error");
  }
}

function messageEvents(chunks: AsyncIterator<ChatChunk>, stopSequences: readonly string[]): AsyncIterableIterator<MessageStreamEvent> {
  const translator = new MessageStreamTranslator(stopSequences);
  return expandMessages(
    chunks,
    (chunk) => translator.push(chunk),
    () => translator.end(),
  );
}
