import type { Client } from "@connectrpc/connect";
import { chatChunkToJson, chatRequestFromJson, chatResponseToJson } from "@llmmesh/openai-wire";
import type { ChatRequest, RouterService, RouterServiceChatResponse, RouterServiceChatStreamResponse } from "@llmmesh/proto";
import type { EndpointSpec } from "../endpoint.js";
import { servedHeaders } from "../served-headers.js";
import { required } from "./required.js";
import { clientChunks, openRouterStream, type OpenedStream } from "./router-stream.js";

/** A chat request as parsed from any client API, and whether the client wants it streamed. */
export type ParsedChat = { request: ChatRequest; stream: boolean };

/** The router's answer: whole, or a stream whose first message has already arrived. */
export type ChatResult =
  | { readonly stream: false; readonly response: RouterServiceChatResponse }
  | ({ readonly stream: true } & OpenedStream<RouterServiceChatStreamResponse>);

/**
 * POST /v1/chat/completions: one JSON answer, or with `stream: true` an SSE
 * stream, answered once its first message arrived (see `openRouterStream`).
 */
export function chatCompletions(router: Client<typeof RouterService>): EndpointSpec<ParsedChat, ChatResult> {
  return {
    readsBody: true,
    parse: ({ body }) => chatRequestFromJson(body),
    async call({ request, stream }, ctx) {
      if (!stream) return { stream: false, response: await router.chat({ chat: request }, ctx.callOptions) };
      return { stream: true, ...(await openRouterStream(ctx, (options) => router.chatStream({ chat: request }, options))) };
    },
    render(result, { request }, ctx) {
      if (!result.stream) {
        return {
          kind: "json",
          body: chatResponseToJson(required(result.response.chat, "chat")),
          headers: servedHeaders(result.response.served, ctx),
        };
      }
      return {
        kind: "events",
        events: clientChunks(result, request.includeUsage, chatChunkToJson),
        headers: servedHeaders(result.first.served, ctx),
      };
    },
  };
}
