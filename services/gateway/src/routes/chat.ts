import type { Client } from "@connectrpc/connect";
import {
  chatChunkToJson,
  chatRequestFromJson,
  chatResponseToJson,
} from "@llmmesh/openai-wire";
import type {
  ChatChunk,
  ChatRequest,
  RouterService,
  RouterServiceChatResponse,
  RouterServiceChatStreamResponse,
} from "@llmmesh/proto";
import { ApiError, ErrorType } from "../api-error.js";
import type { EndpointSpec } from "../endpoint.js";
import { servedHeaders } from "../served-headers.js";
import { required } from "./required.js";

/** A chat request as parsed from any client API, and whether the client wants it streamed. */
export type ParsedChat = { request: ChatRequest; stream: boolean };

/** The router's answer: whole, or a stream whose first message has already arrived. */
export type ChatResult =
  | { readonly stream: false; readonly response: RouterServiceChatResponse }
  | {
      readonly stream: true;
      readonly first: RouterServiceChatStreamResponse;
      readonly rest: AsyncIterator<RouterServiceChatStreamResponse>;
      /** Releases the stream's signal; with `cancel`, cancels the router call (a stream left before its end). */
      readonly stop: (cancel: boolean) => void;
    };

/**
 * POST /v1/chat/completions: one JSON answer, or with `stream: true` an SSE
 * stream. A stream waits for its first message before answering, so errors
 * that happen before any output (auth, limits, every upstream failing) still
 * get their proper HTTP status instead of a 200 with an error event.
 */
export function chatCompletions(router: Client<typeof RouterService>): EndpointSpec<ParsedChat, ChatResult> {
  return {
    readsBody: true,
    parse: ({ body }) => chatRequestFromJson(body),
    async call({ request, stream }, ctx) {
      if (!stream) return { stream: false, response: await router.chat({ chat: request }, ctx.callOptions) };
      // Connect's client iterators have no return(): a stream left early is
      // cancelled through its own signal, which also follows the client.
      const controller = new AbortController();
      const clientSignal = ctx.callOptions.signal;
      const follow = () => controller.abort(clientSignal?.reason);
      if (clientSignal?.aborted) follow();
      else clientSignal?.addEventListener("abort", follow, { once: true });
      const stop = (cancel: boolean) => {
        clientSignal?.removeEventListener("abort", follow);
        if (cancel && !controller.signal.aborted) controller.abort();
      };
      try {
        const messages = router.chatStream({ chat: request }, { ...ctx.callOptions, signal: controller.signal })[Symbol.asyncIterator]();
        const first = await messages.next();
        if (first.done) {
          throw new ApiError(502, "The upstream ended the stream without sending anything", ErrorType.Api, "upstream_error");
        }
        return { stream: true, first: first.value, rest: messages, stop };
      } catch (err) {
        stop(false);
        throw err;
      }
    },
    render(result, { request }) {
      if (!result.stream) {
        return {
          kind: "json",
          body: chatResponseToJson(required(result.response.chat, "chat")),
          headers: servedHeaders(result.response.served),
        };
      }
      return {
        kind: "events",
        events: clientChunks(result.first, result.rest, request.includeUsage, result.stop),
        headers: servedHeaders(result.first.served),
      };
    },
  };
}

/**
 * The stream as the client asked for it. Adapters always ask upstreams for
 * usage (the router needs it for accounting); a client that did not send
 * `stream_options.include_usage` must not see it, as with OpenAI itself.
 */
async function* clientChunks(
  first: RouterServiceChatStreamResponse,
  rest: AsyncIterator<RouterServiceChatStreamResponse>,
  includeUsage: boolean,
  stop: (cancel: boolean) => void,
): AsyncGenerator<Record<string, unknown>> {
  for await (const chunk of streamedChunks(first, rest, stop)) {
    const json = chunkForClient(chunk, includeUsage);
    if (json) yield json;
  }
}

/**
 * The chunks of a router stream, first one included, whatever API renders
 * them. Leaving this generator before the stream's end cancels the router call.
 */
export async function* streamedChunks(
  first: RouterServiceChatStreamResponse,
  rest: AsyncIterator<RouterServiceChatStreamResponse>,
  stop: (cancel: boolean) => void,
): AsyncGenerator<ChatChunk> {
  let complete = false;
  try {
    let message: RouterServiceChatStreamResponse | undefined = first;
    while (message) {
      if (message.chunk) yield message.chunk;
      const next: IteratorResult<RouterServiceChatStreamResponse> = await rest.next();
      message = next.done ? undefined : next.value;
    }
    complete = true;
  } finally {
    stop(!complete);
  }
}

function chunkForClient(chunk: ChatChunk, includeUsage: boolean): Record<string, unknown> | undefined {
  if (includeUsage) return chatChunkToJson(chunk);
  if (chunk.usage && chunk.choices.length === 0) return undefined;
  // Rendered afresh and trimmed, rather than clearing chunk.usage: the message
  // may be shared with an in-process router that still reads it.
  const json = chatChunkToJson(chunk);
  delete json.usage;
  return json;
}
