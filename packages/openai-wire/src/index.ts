/**
 * OpenAI's wire format, in one place: the REST edge parses client JSON with
 * it and renders answers with it, and the OpenAI adapter renders upstream
 * requests and parses upstream answers with it. Both directions of every
 * message live here so a round trip through the mesh is lossless:
 * `xToJson(xFromJson(json))` deep-equals `json` for the documents OpenAI
 * sends and accepts (a request minus `stream`/`stream_options`), because
 * every field the proto does not model — and every explicit null or empty
 * list it cannot express — is kept in the messages' `extraJson`.
 *
 * Parsing functions throw WireError (with `param`, e.g. "messages[2].role")
 * on anything invalid; client input is validated strictly, upstream answers
 * only as far as needed to map them.
 */
export { WireError } from "./errors.js";
export { chatRequestFromJson, chatRequestToJson, type ParsedChatRequest } from "./chat-request.js";
export { chatResponseFromJson, chatResponseToJson } from "./chat-response.js";
export { chatChunkFromJson, chatChunkToJson } from "./chat-chunk.js";
export { completionRequestFromJson, completionRequestToJson, type ParsedCompletionRequest } from "./completion-request.js";
export { completionChunkFromJson, completionChunkToJson, completionResponseFromJson, completionResponseToJson } from "./completion-response.js";
export { embedRequestFromJson, embedRequestToJson, embedResponseFromJson, embedResponseToJson } from "./embeddings.js";
export { modelToJson, modelListToJson } from "./models.js";
export { SseParser, formatSse, type SseEvent } from "./sse.js";
export type {
  ChatCompletionChunkJson,
  ChatCompletionJson,
  ChatCompletionRequestJson,
  ChatMessageJson,
  ChoiceJson,
  ChunkChoiceJson,
  CompletionChoiceJson,
  CompletionJson,
  CompletionRequestJson,
  ContentPartJson,
  DeltaJson,
  EmbeddingJson,
  EmbeddingRequestJson,
  EmbeddingResponseJson,
  FilePartJson,
  FunctionDefinitionJson,
  ImageUrlPartJson,
  InputAudioPartJson,
  ModelJson,
  ModelListJson,
  OtherPartJson,
  ResponseFormatJson,
  TextPartJson,
  ToolCallDeltaJson,
  ToolCallJson,
  ToolChoiceJson,
  ToolJson,
  UsageJson,
} from "./types.js";
/** True for a plain JSON object (not null, not an array): shared by everything that reads upstream JSON. */
export { isObject } from "./guards.js";
export type { JsonObject } from "./guards.js";
/**
 * The field validators and the naming of nested fields in an error's `param`
 * (`messages[2].role`), shared with the other wire formats built on the same
 * proto (`@llmmesh/anthropic-wire`) and the gateway's body checks, so every 400 reads alike.
 */
export {
  childParam,
  expectArray,
  expectBoolean,
  expectInteger,
  expectNumber,
  expectObject,
  expectString,
  int64ToNumber,
} from "./guards.js";
