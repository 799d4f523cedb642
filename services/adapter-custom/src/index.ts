/** adapter-custom: serves `AdapterService` for non-OpenAI protocols, starting with the built-in mock. */
export { createCustomAdapterService } from "./adapter-service.js";
export type { CustomAdapterDeps } from "./adapter-service.js";
export { protocols, DEFAULT_PROTOCOL } from "./providers/index.js";
export type { CustomProtocol, ProtocolCall, ProbeResult } from "./providers/provider.js";
export { customAdapterComponent } from "./component.js";
