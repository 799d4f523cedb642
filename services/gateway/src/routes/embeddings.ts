import type { Client } from "@connectrpc/connect";
import { embedRequestFromJson, embedResponseToJson } from "@llmmesh/openai-wire";
import type { EmbedRequest, RouterService, RouterServiceEmbedResponse } from "@llmmesh/proto";
import type { EndpointSpec } from "../endpoint.js";
import { servedHeaders } from "../served-headers.js";
import { required } from "./required.js";

/** POST /v1/embeddings. */
export function embeddings(router: Client<typeof RouterService>): EndpointSpec<EmbedRequest, RouterServiceEmbedResponse> {
  return {
    readsBody: true,
    parse: ({ body }) => embedRequestFromJson(body),
    call: (request, ctx) => router.embed({ embed: request }, ctx.callOptions),
    render: (response, _request, ctx) => ({
      kind: "json",
      body: embedResponseToJson(required(response.embed, "embed")),
      headers: servedHeaders(response.served, ctx),
    }),
  };
}
