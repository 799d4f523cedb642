import type { ConfigStore } from "@llmmesh/common";
import type { EndpointSpec } from "../endpoint.js";

/** GET /healthz: the edge is up, and which config revision it runs. Never calls the router. */
export function health(config: ConfigStore): EndpointSpec<void, string> {
  return {
    readsBody: false,
    parse: () => undefined,
    call: async () => config.current().revision,
    render: (revision) => ({ kind: "json", body: { status: "ok", revision } }),
  };
}
