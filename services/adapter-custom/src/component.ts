import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { AdapterService } from "@llmmesh/proto";
import { createCustomAdapterService } from "./adapter-service.js";

/** The custom-protocol adapter as a deployable: the built-in mock today, Anthropic and Gemini later. */
export const customAdapterComponent: Component = {
  name: "adapter-custom",
  adapterName: "custom",
  defaultPort: DEFAULT_PORTS["adapter-custom"],
  services: [AdapterService],
  build({ config, logger }) {
    const service = createCustomAdapterService({ config, logger });
    return { register: (router) => router.service(AdapterService, service) };
  },
};
