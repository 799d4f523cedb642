/**
 * OpenAI's wire JSON, as TypeScript types: the shapes the mappers render and
 * accept. Every object type carries an index signature because OpenAI adds
 * fields often and this package passes unknown fields through unchanged.
 * Fields OpenAI sends as `null` are typed `| null`.
 */

/** Any field OpenAI (or a compatible upstream) may add that we do not model. */
type Passthrough = { [field: string]: unknown };

/** `{"type":"text","text":...}` */
export type TextPartJson = { type: "text"; text: string };
/** `{"type":"image_url","image_url":{"url","detail"?}}` */
export type ImageUrlPartJson = { type: "image_url"; image_url: { url: string; detail?: string } };
/** `{"type":"input_audio","input_audio":{"data","format"}}` */
export type InputAudioPartJson = { type: "input_audio"; input_audio: { data: string; format: string } };
/** `{"type":"file","file":{"file_id"?,"file_data"?,"filename"?}}` */
export type FilePartJson = { type: "file"; file: { file_id?: string; file_data?: string; filename?: string } };
/** A content part of a type we do not model (`refusal`, `input_text`, …), kept whole. */
export type OtherPartJson = { type: string } & Passthrough;
/** One element of a message's `content` array. */
export type ContentPartJson = TextPartJson | ImageUrlPartJson | InputAudioPartJson | FilePartJson | OtherPartJson;

/** A completed tool call on an assistant message. */
export type ToolCallJson = { id: string; type: string; function: { name: string; arguments: string } & Passthrough } & Passthrough;

/** One chat message, in a request or in a response's `choices[].message`. */
export type ChatMessageJson = {
  role: string;
  content?: string | ContentPartJson[] | null;
  name?: string;
  tool_calls?: ToolCallJson[];
  tool_call_id?: string;
  refusal?: string | null;
  function_call?: unknown;
} & Passthrough;

/** A function the model may call. */
export type FunctionDefinitionJson = {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
} & Passthrough;

/** An entry of the request's `tools`: a function, or a tool of another type (`custom`) passed through. */
export type ToolJson = { type: string; function?: FunctionDefinitionJson } & Passthrough;

/** The request's `tool_choice`. */
export type ToolChoiceJson = "auto" | "none" | "required" | ({ type: string; function?: { name: string } } & Passthrough);

/** The request's `response_format`. */
export type ResponseFormatJson = { type: string; json_schema?: Record<string, unknown> } & Passthrough;

/** A `/v1/chat/completions` request body. */
export type ChatCompletionRequestJson = {
  model: string;
  messages: ChatMessageJson[];
  tools?: ToolJson[];
  tool_choice?: ToolChoiceJson;
  parallel_tool_calls?: boolean;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stop?: string | string[];
  n?: number;
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  response_format?: ResponseFormatJson;
  logprobs?: boolean;
  top_logprobs?: number;
  logit_bias?: Record<string, number>;
  reasoning_effort?: string;
  user?: string;
  metadata?: Record<string, string>;
  store?: boolean;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
} & Passthrough;

/** Token accounting, as chat completions and embeddings report it. */
export type UsageJson = {
  prompt_tokens: number;
  completion_tokens?: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } & Passthrough;
  completion_tokens_details?: { reasoning_tokens?: number } & Passthrough;
} & Passthrough;

/** What every choice has around its body (`{message}` or `{delta}`), in OpenAI's key order. */
export type ChoiceEnvelopeJson<Body> = { index: number } & Body & { logprobs: unknown; finish_reason: string | null } & Passthrough;

/** One alternative of a complete answer. */
export type ChoiceJson = ChoiceEnvelopeJson<{ message: ChatMessageJson }>;

/** The top level of a complete answer or of a streamed chunk: `Kind` (its `object`) says which, `Choice` is its choice type. */
export type ChatEnvelopeJson<Kind extends string, Choice> = {
  id: string;
  object: Kind;
  created: number;
  model: string;
  choices: Choice[];
  usage?: UsageJson | null;
  system_fingerprint?: string | null;
  service_tier?: string | null;
} & Passthrough;

/** A complete (non-streamed) answer: `"object":"chat.completion"`. */
export type ChatCompletionJson = ChatEnvelopeJson<"chat.completion", ChoiceJson>;

/** A fragment of a tool call in a streamed delta. */
export type ToolCallDeltaJson = {
  index: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string } & Passthrough;
} & Passthrough;

/** What one chunk adds to a choice's message. */
export type DeltaJson = {
  role?: string;
  content?: string | null;
  tool_calls?: ToolCallDeltaJson[];
  refusal?: string | null;
  function_call?: unknown;
} & Passthrough;

/** One alternative's delta in a chunk. */
export type ChunkChoiceJson = ChoiceEnvelopeJson<{ delta: DeltaJson }>;

/** One streamed chunk: `"object":"chat.completion.chunk"`. */
export type ChatCompletionChunkJson = ChatEnvelopeJson<"chat.completion.chunk", ChunkChoiceJson>;

/** A `/v1/embeddings` request body. */
export type EmbeddingRequestJson = {
  model: string;
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  encoding_format?: string;
  user?: string;
} & Passthrough;

/** One vector of an embeddings answer: floats, or base64 of little-endian float32s. */
export type EmbeddingJson = { object: "embedding"; index: number; embedding: number[] | string } & Passthrough;

/** A `/v1/embeddings` answer. */
export type EmbeddingResponseJson = {
  object: "list";
  data: EmbeddingJson[];
  model: string;
  usage?: UsageJson;
} & Passthrough;

/** A `/v1/completions` (legacy text completions) request body. */
export type CompletionRequestJson = {
  model: string;
  prompt: string | string[] | number[] | number[][] | null;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  logprobs?: number;
  echo?: boolean;
  suffix?: string;
  best_of?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  user?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
} & Passthrough;

/** One alternative of a text completion: its whole text, or in a chunk the text it adds. */
export type CompletionChoiceJson = ChoiceEnvelopeJson<{ text: string }>;

/** A text completion, complete or streamed: both are `"object":"text_completion"`. */
export type CompletionJson = ChatEnvelopeJson<"text_completion", CompletionChoiceJson>;

/** One entry of `/v1/models`. */
export type ModelJson = { id: string; object: "model"; created: number; owned_by: string };

/** The `/v1/models` answer. */
export type ModelListJson = { object: "list"; data: ModelJson[] };
