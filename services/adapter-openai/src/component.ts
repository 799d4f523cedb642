import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { AdapterService } from "@llmmesh/proto";
import { createOpenAIAdapter } from "./adapter-service.js";
import { checkOpenAIProviders } from "./provider-check.js";

/** The OpenAI-compatible adapter as a deployable: OpenAI, DeepSeek, Qwen, vLLM, Ollama, any /v1 API. */
export const openAIAdapterComponent: Component = {
  name: "adapter-openai",
  adapterName: "openai",
  defaultPort: DEFAULT_PORTS["adapter-openai"],
  services: [AdapterService],
  build({ config, logger, env }) {
    const adapter = createOpenAIAdapter({ config, logger, env });
    return { register: (router) => router.service(AdapterService, adapter.service), close: () => adapter.close() };
  },
  validate: (snapshot, env) => checkOpenAIProviders(snapshot, env, "openai"),
};
