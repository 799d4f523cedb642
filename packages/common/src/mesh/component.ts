import type { Client, ConnectRouter } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import type { AdapterService, PolicyService, RouterService } from "@llmmesh/proto";
import type { ConfigControl } from "../config/config-control.js";
import type { ConfigSnapshot } from "../config/snapshot.js";
import type { ConfigStore } from "../config/store.js";
import type { Logger } from "../logger.js";
import type { HttpHandler } from "../server.js";

/** The service kinds a process can host. */
export type ComponentName = "gateway" | "router" | "policy" | "adapter-openai" | "adapter-custom";

/**
 * Clients of the other services, wherever they run: in this process
 * (in-memory) or elsewhere (the network). A component never knows which.
 */
export interface MeshClients {
  readonly router: Client<typeof RouterService>;
  readonly policy: Client<typeof PolicyService>;
  /** The adapter deployable registered under `adapterName` in config, if any. */
  adapterFor(adapterName: string): Client<typeof AdapterService> | undefined;
}

/** What a component gets to build itself: dependencies, never globals. */
export interface ComponentContext {
  config: ConfigStore;
  logger: Logger;
  clients: MeshClients;
  env: NodeJS.ProcessEnv;
  /** The operators' config operations (push, history, fleet status) when the process follows NATS; the gateway's admin API serves them. */
  configControl?: ConfigControl;
}

/** A built component, ready to be mounted on a server. */
export interface BuiltComponent {
  /** Registers its RPC services. */
  register(router: ConnectRouter): void;
  /** The REST edge, for the gateway. */
  http?: HttpHandler;
  /** Releases pools and timers after the server stopped. */
  close?(): Promise<void>;
}

/**
 * One deployable service, described so that the same code runs it alone
 * (its own `main`) or beside others in one process (the launcher).
 */
export interface Component {
  name: ComponentName;
  /** Port used when it runs alone and PORT is not set. */
  defaultPort: number;
  /** RPC services it serves, for health and reflection. */
  services: readonly DescService[];
  /** For adapters: the adapter name config refers to (`providers[].adapter`). */
  adapterName?: string;
  build(context: ComponentContext): BuiltComponent;
  /**
   * This service's own check of a config revision that passed the schema
   * (say, the router: every adapter has an address it can call). Problems
   * name the path at fault; any problem makes the process refuse the
   * revision and keep the one it runs. Called before `build` for the first
   * revision, so it depends on the snapshot and environment only.
   */
  validate?(snapshot: ConfigSnapshot, env: NodeJS.ProcessEnv): string[];
}
