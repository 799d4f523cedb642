/**
 * The REST edge of LLM Mesh: OpenAI-compatible HTTP routes that translate to
 * and from `RouterService` calls.
 */
export { createGatewayHandler } from "./gateway-handler.js";
export type { GatewayDeps } from "./gateway-handler.js";
export { gatewayComponent } from "./component.js";
