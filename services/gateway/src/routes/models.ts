import type { Client } from "@connectrpc/connect";
import { modelListToJson, modelToJson } from "@llmmesh/openai-wire";
import type { ModelInfo, RouterService } from "@llmmesh/proto";
import { ApiError, ErrorType } from "../api-error.js";
import type { EndpointSpec } from "../endpoint.js";

/** GET /v1/models: the models the caller may use (the router asks policy). */
export function listModels(router: Client<typeof RouterService>): EndpointSpec<void, readonly ModelInfo[]> {
  return {
    readsBody: false,
    parse: () => undefined,
    call: async (_, ctx) => (await router.listModels({}, ctx.callOptions)).models,
    render: (models) => ({ kind: "json", body: modelListToJson(models) }),
  };
}

/**
 * GET /v1/models/{id}. Answered from the caller's own list, so a model the
 * caller may not use looks exactly like one that does not exist.
 */
export function retrieveModel(router: Client<typeof RouterService>): EndpointSpec<string, ModelInfo> {
  return {
    readsBody: false,
    parse: ({ params }) => params.id ?? "",
    async call(id, ctx) {
      const { models } = await router.listModels({}, ctx.callOptions);
      const model = models.find((m) => m.id === id);
      if (!model) {
        throw new ApiError(
          404,
          `The model '${id}' does not exist or you do not have access to it.`,
          ErrorType.InvalidRequest,
          "model_not_found",
          "model",
        );
      }
      return model;
    },
    render: (model) => ({ kind: "json", body: modelToJson(model) }),
  };
}
