/**
 * `/v1/models` rendering from `ModelInfo`. Only this direction exists: the
 * mesh answers model lists, it never needs to parse an upstream's.
 */
import type { ModelInfo } from "@llmmesh/proto";
import { int64ToNumber } from "./guards.js";
import type { ModelJson, ModelListJson } from "./types.js";

function toModelJson(model: ModelInfo): ModelJson {
  return { id: model.id, object: "model", created: int64ToNumber(model.created), owned_by: model.ownedBy };
}

/** One model as OpenAI lists it: `{"id","object":"model","created","owned_by"}`. */
export function modelToJson(model: ModelInfo): Record<string, unknown> {
  return toModelJson(model);
}

/** The `/v1/models` answer: `{"object":"list","data":[...]}` in the given order. */
export function modelListToJson(models: readonly ModelInfo[]): Record<string, unknown> {
  const out: ModelListJson = { object: "list", data: models.map(toModelJson) };
  return out;
}
