import { Code } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { chatRequestToJson, completionRequestToJson, embedRequestToJson, WireError, isObject } from "@llmmesh/openai-wire";
import type { ChatRequest, CompletionRequest, EmbedRequest } from "@llmmesh/proto";
import type { ProtocolRequest, ResolvedProvider } from "../provider.js";

/** POST /chat/completions for `model`, streamed or not (see `generationRequest`). */
export function chatCompletionRequest(provider: ResolvedProvider, model: string, request: ChatRequest, stream: boolean): ProtocolRequest {
  return generationRequest(provider, "/chat/completions", mapped(() => chatRequestToJson(request)), model, stream);
}

/** POST /completions (legacy text completions) for `model`, streamed or not (see `generationRequest`). */
export function completionRequest(provider: ResolvedProvider, model: string, request: CompletionRequest, stream: boolean): ProtocolRequest {
  return generationRequest(provider, "/completions", mapped(() => completionRequestToJson(request)), model, stream);
}

/**
 * A request that generates text, with `body` sent to `model`. Streamed
 * requests always ask for usage (`stream_options.include_usage`): the mesh
 * needs real token counts for accounting, and the gateway drops the usage
 * chunk when the client did not ask.
 */
function generationRequest(provider: ResolvedProvider, path: string, body: Record<string, unknown>, model: string, stream: boolean): ProtocolRequest {
  body.model = model;
  if (stream) {
    // Keep stream options a client passed through (for example include_obfuscation).
    const passed = isObject(body.stream_options) ? body.stream_options : {};
    body.stream = true;
    body.stream_options = { ...passed, include_usage: true };
  } else {
    delete body.stream;
    delete body.stream_options;
  }
  return {
    method: "POST",
    path,
    headers: headersFor(provider, stream ? "text/event-stream" : "application/json", true),
    body: JSON.stringify(body),
  };
}

/** POST /embeddings for `model`. */
export function embeddingsRequest(provider: ResolvedProvider, model: string, request: EmbedRequest): ProtocolRequest {
  const body = mapped(() => embedRequestToJson(request));
  body.model = model;
  return { method: "POST", path: "/embeddings", headers: headersFor(provider, "application/json", true), body: JSON.stringify(body) };
}

/** GET /models: the model list, also used as the health probe. */
export function modelsRequest(provider: ResolvedProvider): ProtocolRequest {
  return { method: "GET", path: "/models", headers: headersFor(provider, "application/json", false) };
}

/**
 * Bearer auth from the provider's key, then the provider's own headers, which
 * win: an operator who sets a header explicitly means it.
 */
function headersFor(provider: ResolvedProvider, accept: string, hasBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept };
  if (hasBody) headers["content-type"] = "application/json";
  if (provider.apiKey !== undefined) headers.authorization = `Bearer ${provider.apiKey}`;
  return Object.assign(headers, provider.headers);
}

/** Runs a wire mapping; a request the wire format cannot express is the caller's fault. */
function mapped(map: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return map();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw meshError(Code.InvalidArgument, err.message, { reason: Reason.InvalidRequest, param: err.param ?? "" });
  }
}

