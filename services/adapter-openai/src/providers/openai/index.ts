import type { ProtocolRequest, ProviderProtocol, UpstreamCall } from "../provider.js";
import { lazyMessages } from "@llmmesh/common";
import type { UpstreamAnswer, UpstreamResponse } from "../../upstream-client.js";
import { chatCompletionRequest, completionRequest, embeddingsRequest, modelsRequest } from "./request.js";
import { parseChatResponse, parseCompletionResponse, parseEmbedResponse, parseModelList } from "./response.js";
import { chatChunks, completionChunks } from "./stream.js";
import { httpError } from "./errors.js";

/**
 * OpenAI's Chat Completions protocol (with embeddings and legacy text completions), spoken by OpenAI and every
 * OpenAI-compatible server (DeepSeek, Qwen, vLLM, Ollama, LM Studio…).
 * Variants (Azure's paths and api-key header) compose these functions.
 */
export const openAIProtocol: ProviderProtocol = {
  async chat(call, model, request) {
    const answer = await call.fetch(chatCompletionRequest(call.provider, model, request, false));
    return parseChatResponse(call, answer.status, successText(call, answer));
  },

  chatStream(call, model, request) {
    return lazyMessages(async () => chatChunks(call, await streamResponse(call, chatCompletionRequest(call.provider, model, request, true))));
  },

  async complete(call, model, request) {
    const answer = await call.fetch(completionRequest(call.provider, model, request, false));
    return parseCompletionResponse(call, answer.status, successText(call, answer));
  },

  completeStream(call, model, request) {
    return lazyMessages(async () => completionChunks(call, await streamResponse(call, completionRequest(call.provider, model, request, true))));
  },

  async embed(call, model, request) {
    const answer = await call.fetch(embeddingsRequest(call.provider, model, request));
    return parseEmbedResponse(call, answer.status, successText(call, answer));
  },

  async listModels(call) {
    const answer = await call.fetch(modelsRequest(call.provider));
    return parseModelList(call, answer.status, successText(call, answer));
  },

  async probe(call) {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const answer = await call.fetch(modelsRequest(call.provider));
      if (isSuccess(answer.status)) return { healthy: true, latencyMs: elapsed(), message: `HTTP ${answer.status}` };
      return { healthy: false, latencyMs: elapsed(), message: `HTTP ${answer.status}: ${httpError(call, answer, answer.text).rawMessage}` };
    } catch (err) {
      if (call.signal.aborted) throw err;
      return { healthy: false, latencyMs: elapsed(), message: call.failure(err).rawMessage };
    }
  },
};

/** The response to a stream request, once it is known to be a 2xx; a non-2xx answer throws its mesh error. */
async function streamResponse(call: UpstreamCall, request: ProtocolRequest): Promise<UpstreamResponse> {
  const response = await call.send(request);
  if (!isSuccess(response.status)) throw httpError(call, response, await call.readText(response));
  return response;
}

/** The body of a 2xx answer; a non-2xx answer throws its mesh error. */
function successText(call: UpstreamCall, answer: UpstreamAnswer): string {
  if (!isSuccess(answer.status)) throw httpError(call, answer, answer.text);
  return answer.text;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
