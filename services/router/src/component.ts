import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { RouterService } from "@llmmesh/proto";
import { checkAdapterAddresses } from "./adapter-addresses.js";
import { createRouterService } from "./router-service.js";
import { createBatchingSettler } from "./settlement.js";

/** The router as a deployable: the orchestrator and the public internal API. */
export const routerComponent: Component = {
  name: "router",
  defaultPort: DEFAULT_PORTS.router,
  services: [RouterService],
  build({ config, logger, clients }) {
    const settler = createBatchingSettler(clients.policy, logger);
    const service = createRouterService({
      config,
      logger,
      policy: clients.policy,
      adapterFor: (name) => clients.adapterFor(name),
      settle: (settlement) => settler.settle(settlement),
    });
    return { register: (router) => router.service(RouterService, service), close: () => settler.flush() };
  },
  validate: checkAdapterAddresses,
};
