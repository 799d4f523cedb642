/** The router: admission, target selection, retries and fallback, settlement. */
export { createRouterService } from "./router-service.js";
export type { RouterServiceDeps } from "./router-service.js";
export { routerComponent } from "./component.js";
