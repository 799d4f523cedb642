/**
 * `/v1/completions` (legacy text completions) request bodies ⇄
 * `CompletionRequest`.
 *
 * Lossless like chat requests: every top-level key is modelled or kept in
 * `extraJson`, and so is every value the proto cannot express (an explicit
 * `null`, an empty `stop` list), so rendering a parsed body gives back the
 * body the client sent, minus `stream` and `stream_options`. The fields the
 * two endpoints share are read and written by `shared-fields.ts`.
 */
import { create } from "@bufbuild/protobuf";
import { CompletionRequestSchema, type CompletionRequest } from "@llmmesh/proto";
import { checkStreamOptionsNeedStream, parseModel, readSharedField, writeSharedFields } from "./shared-fields.js";
import { WireError } from "./errors.js";
import { expectBoolean, expectInteger, expectString, ExtraFields, int64ToNumber, isObject, mergeExtra } from "./guards.js";
import { textInputFromJson, textInputToJson } from "./text-input.js";
import type { CompletionRequestJson } from "./types.js";

/** A parsed client request plus whether it asked for a stream. */
export interface ParsedCompletionRequest {
  request: CompletionRequest;
  stream: boolean;
}

/**
 * Parses and validates a client's `/v1/completions` body (already
 * `JSON.parse`d). Throws WireError with `param` naming the first invalid
 * field. `prompt` is required, as OpenAI's API says, but may be `null`
 * (the upstream's default prompt), which is passed on as sent.
 */
export function completionRequestFromJson(body: unknown): ParsedCompletionRequest {
  if (!isObject(body)) throw new WireError("The request body must be a JSON object.");
  const req = create(CompletionRequestSchema);
  const extra = new ExtraFields();
  let stream = false;
  let hasModel = false;
  let hasPrompt = false;
  for (const key of Object.keys(body)) {
    const v = body[key];
    if (v === null && key !== "model") {
      // `stream: null` and `stream_options: null` mean "not set"; any other
      // explicit null (a null prompt included) is the client's to send upstream unchanged.
      if (key !== "stream" && key !== "stream_options") extra.set(key, null);
      if (key === "prompt") hasPrompt = true;
      continue;
    }
    switch (key) {
      case "model":
        req.model = parseModel(v);
        hasModel = true;
        break;
      case "prompt":
        req.prompt = textInputFromJson(v, key);
        hasPrompt = true;
        break;
      case "max_tokens":
        // 0 is meaningful here: with `echo`, it scores the prompt without generating.
        req.maxTokens = expectInteger(v, key, { min: 0 });
        break;
      case "logprobs":
        req.logprobs = expectInteger(v, key, { min: 0 });
        break;
      case "echo":
        req.echo = expectBoolean(v, key);
        break;
      case "suffix":
        req.suffix = expectString(v, key);
        break;
      case "best_of":
        req.bestOf = expectInteger(v, key, { min: 0 });
        break;
      case "stream":
        stream = expectBoolean(v, key);
        break;
      default:
        if (!readSharedField(req, key, v, extra)) extra.set(key, v);
    }
  }
  if (!hasModel) throw new WireError("Missing required parameter: 'model'.", "model");
  if (!hasPrompt) throw new WireError("Missing required parameter: 'prompt'.", "prompt");
  checkStreamOptionsNeedStream(body, stream);
  req.extraJson = extra.toJson();
  return { request: req, stream };
}

/**
 * The body to send an OpenAI-compatible upstream: every modelled field plus
 * `extraJson` merged back (a null prompt among them), `model` from
 * `req.model`. It carries no `stream`/`stream_options`: the caller adds them.
 */
export function completionRequestToJson(req: CompletionRequest): Record<string, unknown> {
  const out: Partial<CompletionRequestJson> & { model: string } = { model: req.model };
  if (req.prompt.case !== undefined) out.prompt = textInputToJson(req.prompt);
  if (req.maxTokens !== undefined) out.max_tokens = int64ToNumber(req.maxTokens);
  writeSharedFields(req, out);
  if (req.logprobs !== undefined) out.logprobs = int64ToNumber(req.logprobs);
  if (req.echo !== undefined) out.echo = req.echo;
  if (req.suffix !== undefined) out.suffix = req.suffix;
  if (req.bestOf !== undefined) out.best_of = int64ToNumber(req.bestOf);
  return mergeExtra(out, req.extraJson);
}
