import { Code, type ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { meshError, Reason } from "@llmmesh/common";
import { chatResponseFromJson, completionResponseFromJson, embedResponseFromJson, isObject } from "@llmmesh/openai-wire";
import { ModelInfoSchema, type ChatResponse, type CompletionResponse, type EmbedResponse, type ModelInfo } from "@llmmesh/proto";
import type { UpstreamCall } from "../provider.js";

/** A 2xx chat completion body → ChatResponse; an unreadable one is an upstream error. */
export function parseChatResponse(call: UpstreamCall, status: number, text: string): ChatResponse {
  const json = parseUpstreamJson(call, status, text, "chat completion");
  return mapUpstream(call, status, "chat completion", () => chatResponseFromJson(json));
}

/** A 2xx text completion body → CompletionResponse. */
export function parseCompletionResponse(call: UpstreamCall, status: number, text: string): CompletionResponse {
  const json = parseUpstreamJson(call, status, text, "text completion");
  return mapUpstream(call, status, "text completion", () => completionResponseFromJson(json));
}

/** A 2xx embeddings body → EmbedResponse. */
export function parseEmbedResponse(call: UpstreamCall, status: number, text: string): EmbedResponse {
  const json = parseUpstreamJson(call, status, text, "embeddings answer");
  return mapUpstream(call, status, "embeddings answer", () => embedResponseFromJson(json));
}

/** A 2xx `GET /models` body (`{"data": [{id, created, owned_by}]}`) → ModelInfo[]. */
export function parseModelList(call: UpstreamCall, status: number, text: string): ModelInfo[] {
  const json = parseUpstreamJson(call, status, text, "model list");
  const data = isObject(json) && Array.isArray(json.data) ? (json.data as unknown[]) : undefined;
  if (data === undefined) throw invalidAnswer(call, status, "model list", "it has no data array");
  return data.filter(isObject).flatMap((model) =>
    typeof model.id === "string"
      ? [
          create(ModelInfoSchema, {
            id: model.id,
            created: typeof model.created === "number" && Number.isFinite(model.created) ? BigInt(Math.trunc(model.created)) : 0n,
            ownedBy: typeof model.owned_by === "string" ? model.owned_by : "",
          }),
        ]
      : [],
  );
}

/** Parses an upstream body as JSON; invalid JSON is Internal/upstream_error with the status. */
export function parseUpstreamJson(call: UpstreamCall, status: number, text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidAnswer(call, status, what, "it is not JSON");
  }
}

/** The error for an upstream answer we cannot read. */
export function invalidAnswer(call: UpstreamCall, status: number, what: string, why: string): ConnectError {
  return meshError(Code.Internal, `provider "${call.provider.name}" sent an invalid ${what}: ${why}`, {
    reason: Reason.UpstreamError,
    upstreamStatus: status,
    provider: call.provider.name,
  });
}

/** Runs a wire mapping of an upstream answer; a shape error there is the upstream's fault. */
export function mapUpstream<T>(call: UpstreamCall, status: number, what: string, map: () => T): T {
  try {
    return map();
  } catch (err) {
    throw invalidAnswer(call, status, what, err instanceof Error ? err.message : String(err));
  }
}

