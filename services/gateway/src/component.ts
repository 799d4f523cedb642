import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { createGatewayHandler } from "./gateway-handler.js";

/** The REST edge as a deployable. It serves no RPCs of its own; it calls the router. */
export const gatewayComponent: Component = {
  name: "gateway",
  defaultPort: DEFAULT_PORTS.gateway,
  services: [],
  build({ config, logger, clients, env, configControl }) {
    const admin = { control: configControl, key: env.LLMMESH_ADMIN_KEY };
    return { register: () => {}, http: createGatewayHandler({ router: clients.router, config, logger, admin }) };
  },
};
