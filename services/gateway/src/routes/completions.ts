import type { Client } from "@connectrpc/connect";
import { completionChunkToJson, completionRequestFromJson, completionResponseToJson, type ParsedCompletionRequest } from "@llmmesh/openai-wire";
import type { RouterService, RouterServiceCompleteResponse, RouterServiceCompleteStreamResponse } from "@llmmesh/proto";
import type { EndpointSpec } from "../endpoint.js";
import { servedHeaders } from "../served-headers.js";
import { required } from "./required.js";
import { clientChunks, openRouterStream, type OpenedStream } from "./router-stream.js";

type CompletionResult =
  | { readonly stream: false; readonly response: RouterServiceCompleteResponse }
  | ({ readonly stream: true } & OpenedStream<RouterServiceCompleteStreamResponse>);

/**
 * POST /v1/completions (legacy text completions): one JSON answer, or with
 * `stream: true` an SSE stream, exactly as chat completions are served.
 */
export function completions(router: Client<typeof RouterService>): EndpointSpec<ParsedCompletionRequest, CompletionResult> {
  return {
    readsBody: true,
    parse: ({ body }) => completionRequestFromJson(body),
    async call({ request, stream }, ctx) {
      if (!stream) return { stream: false, response: await router.complete({ completion: request }, ctx.callOptions) };
      return { stream: true, ...(await openRouterStream(ctx, (options) => router.completeStream({ completion: request }, options))) };
    },
    render(result, { request }, ctx) {
      if (!result.stream) {
        return {
          kind: "json",
          body: completionResponseToJson(required(result.response.completion, "completion")),
          headers: servedHeaders(result.response.served, ctx),
        };
      }
      return {
        kind: "events",
        events: clientChunks(result, request.includeUsage, completionChunkToJson),
        headers: servedHeaders(result.first.served, ctx),
      };
    },
  };
}
