import { DEFAULT_PORTS, type Component } from "@llmmesh/common";
import { PolicyService } from "@llmmesh/proto";
import { createPolicyService } from "./policy-service.js";
import { checkKeySecrets } from "./key-check.js";

/** The policy service as a deployable: keys, limits and usage. */
export const policyComponent: Component = {
  name: "policy",
  defaultPort: DEFAULT_PORTS.policy,
  services: [PolicyService],
  build({ config, logger, env }) {
    // Key references (`${VAR}`) resolve in the host's environment, as validate checked them.
    const service = createPolicyService({ config, logger, env });
    return { register: (router) => router.service(PolicyService, service) };
  },
  validate: checkKeySecrets,
};
