import type { ConfigControl } from "../config/config-control.js";
import type { ConfigStore } from "../config/store.js";
import type { Logger } from "../logger.js";
import { startServer, type RunningServer } from "../server.js";
import type { BuiltComponent, Component, ComponentContext } from "./component.js";
import { createMeshClients } from "./clients.js";

/** What to host in one process. */
export interface HostOptions {
  components: readonly Component[];
  config: ConfigStore;
  logger: Logger;
  host: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  /** Handed to components (the gateway's admin API) when the process follows NATS. */
  configControl?: ConfigControl;
}

/** A process's running services. */
export interface Host {
  readonly server: RunningServer;
  readonly components: readonly Component[];
  /** The RPC services reachable on the port (besides health and reflection). */
  readonly services: readonly string[];
  /** Drains in-flight requests and streams (up to `graceMs`), then releases every component. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Hosts any subset of the services on one port. Services in this process
 * reach each other in memory; the rest through the network, at the
 * addresses config and environment give. This is the one code path for the
 * all-in-one mode, a single service's own process and every placement between.
 */
export async function hostComponents(options: HostOptions): Promise<Host> {
  const env = options.env ?? process.env;
  const built = new Map<Component, BuiltComponent>();
  const context: ComponentContext = {
    config: options.config,
    env,
    logger: options.logger,
    configControl: options.configControl,
    // Assigned below: clients need the local components and components need clients.
    clients: undefined as never,
  };
  const buildOnce = (component: Component) => () => {
    let result = built.get(component);
    if (!result) {
      result = component.build({ ...context, logger: options.logger.child({ service: component.name }) });
      built.set(component, result);
    }
    return result;
  };
  context.clients = createMeshClients(options.config, env, {
    find(predicate) {
      const component = options.components.find(predicate);
      return component ? { component, built: buildOnce(component) } : undefined;
    },
  });

  const instances = options.components.map((component) => buildOnce(component)());
  const http = instances.find((instance) => instance.http)?.http;
  // Two components serving the same service (both adapters, in all-in-one)
  // cannot share one path on the port: they stay reachable in process only.
  const servedBy = new Map<string, number>();
  for (const service of options.components.flatMap((c) => c.services)) servedBy.set(service.typeName, (servedBy.get(service.typeName) ?? 0) + 1);
  const exposed = options.components.filter((c) => c.services.every((s) => servedBy.get(s.typeName) === 1));
  const server = await startServer({
    host: options.host,
    port: options.port,
    services: exposed.flatMap((c) => c.services),
    routes(router) {
      for (const component of exposed) buildOnce(component)().register(router);
    },
    fallback: http,
    maxMessageBytes: options.config.current().config.server.rpc_max_bytes,
    logger: options.logger,
  });

  return {
    server,
    components: options.components,
    services: exposed.flatMap((c) => c.services.map((s) => s.typeName)),
    async close(graceMs) {
      await server.close(graceMs);
      await Promise.all([...built.values()].map((instance) => instance.close?.()));
    },
  };
}
