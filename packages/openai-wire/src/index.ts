/**
 * OpenAI's wire format, in one place: the REST edge parses client JSON with
 * it and renders answers with it, and the OpenAI adapter renders upstream
 * requests and parses upstream answers with it. Both directions of every
 * message live here so a round trip through the mesh is lossless.
 *
 * CONTRACT (implemented by the files beside this one):
 *
 * chatRequestFromJson(body: unknown): ChatRequest
 *   Validates a client's /v1/chat/completions body; throws WireError (with
 *   `param`, e.g. "messages[2].role") on anything invalid. Unknown top-level
 *   fields go to `extraJson`; unknown message fields to the message's
 *   `extraJson`; unknown content part types to `otherJson`. The `stream`
 *   flag is returned separately: see parseChatCompletionBody.
 * chatRequestToJson(req: ChatRequest): Record<string, unknown>
 *   The upstream body (without `stream`/`stream_options`, which the caller adds).
 * chatResponseFromJson(json: unknown): ChatResponse            (upstream → mesh)
 * chatResponseToJson(res: ChatResponse): Record<string, unknown> (mesh → client)
 * chatChunkFromJson(json: unknown): ChatChunk
 * chatChunkToJson(chunk: ChatChunk): Record<string, unknown>
 * embedRequestFromJson / embedRequestToJson / embedResponseFromJson / embedResponseToJson
 * modelToJson(model: ModelInfo) / modelListToJson(models: ModelInfo[])
 * SseParser: incremental `text/event-stream` parser for upstream streams.
 */
export {};
