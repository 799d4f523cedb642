import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { RouterService } from "@llmmesh/proto";
import { checkAdapterAddresses } from "./adapter-addresses.js";
import { AdmissionLeases } from "./admission-leases.js";
import { createRouterService } from "./router-service.js";
import { createBatchingSettler } from "./settlement.js";

/** The router as a deployable: the orchestrator and the public internal API. */
export const routerComponent: Component = {
  name: "router",
  defaultPort: DEFAULT_PORTS.router,
  services: [RouterService],
  build({ config, logger, clients }) {
    const settler = createBatchingSettler(clients.policy, logger);
    const admissions = new AdmissionLeases({ policy: clients.policy, config, logger, returnLease: (returned) => settler.returnLease(returned) });
    const service = createRouterService({
      config,
      logger,
      policy: clients.policy,
      adapterFor: (name) => clients.adapterFor(name),
      settle: (settlement) => settler.settle(settlement),
      admissions,
    });
    const close = () => {
      // Leases first: what they left unused goes back in the final batch.
      admissions.close();
      return settler.flush();
    };
    return { register: (router) => router.service(RouterService, service), close };
  },
  validate: checkAdapterAddresses,
};
