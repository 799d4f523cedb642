/** The policy service: API keys, model access, rate limits and usage. */
export { createPolicyService } from "./policy-service.js";
export type { PolicyServiceDeps } from "./policy-service.js";
export { policyComponent } from "./component.js";
