import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { RouterService } from "@llmmesh/proto";
import { checkAdapterAddresses } from "./adapter-addresses.js";
import { createRouterService } from "./router-service.js";

/** The router as a deployable: the orchestrator and the public internal API. */
export const routerComponent: Component = {
  name: "router",
  defaultPort: DEFAULT_PORTS.router,
  services: [RouterService],
  build({ config, logger, clients }) {
    const service = createRouterService({
      config,
      logger,
      policy: clients.policy,
      adapterFor: (name) => clients.adapterFor(name),
    });
    return { register: (router) => router.service(RouterService, service) };
  },
  validate: checkAdapterAddresses,
};
