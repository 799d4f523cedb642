import { createRouterTransport, type Client, type ConnectRouter, type Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { AdapterService, PolicyService, RouterService } from "@llmmesh/proto";
import { createServiceTransport, serviceClient } from "../clients.js";
import { forwardableErrors } from "./interceptors.js";
import { collectImplementations, createDirectTransport } from "./direct-transport.js";
import type { ConfigStore } from "../config/store.js";
import type { MeshConfig } from "../config/schema.js";
import type { BuiltComponent, Component, MeshClients } from "./component.js";
import { adapterUrl, serviceUrl } from "./addresses.js";

/**
 * Deadlines for calls that set none, so no internal call can hang forever.
 * Policy answers from memory; the router and adapters bound their own
 * upstream work by the model's timeout, so theirs is only a backstop long
 * enough for the longest stream.
 */
const CALL_DEADLINE_MS = { policy: 10_000, router: 30 * 60_000, adapter: 30 * 60_000 } as const;

/** Components hosted in this process, built on first use. */
export interface LocalComponents {
  find(predicate: (component: Component) => boolean): { component: Component; built: () => BuiltComponent } | undefined;
}

/**
 * Resolves each dependency to an in-process transport when this process
 * hosts it, or to a pooled network transport otherwise. Transports are made
 * once per address and reused for every request.
 */
export function createMeshClients(config: ConfigStore, env: NodeJS.ProcessEnv, local: LocalComponents): MeshClients {
  const remote = new Map<string, Transport>();
  const inProcess = new Map<string, Transport>();
  const clients = new Map<string, Client<DescService>>();

  const maxMessageBytes = () => config.current().config.server.rpc_max_bytes;
  const remoteTransport = (url: string, defaultTimeoutMs: number) => {
    const key = `${url} ${defaultTimeoutMs}`;
    let transport = remote.get(key);
    if (!transport) {
      transport = createServiceTransport(url, { maxMessageBytes: maxMessageBytes(), interceptors: [forwardableErrors], defaultTimeoutMs });
      remote.set(key, transport);
    }
    return transport;
  };
  // "direct" calls implementations without serialising; "memory" runs the
  // full Connect protocol in memory (the same bytes as the network, for
  // debugging a suspected difference between the two).
  const inProcessKind = env.LLMMESH_IN_PROCESS_TRANSPORT === "memory" ? "memory" : "direct";
  const localTransport = (name: string, built: () => BuiltComponent) => {
    let transport = inProcess.get(name);
    if (!transport) {
      const register = (router: ConnectRouter) => built().register(router);
      transport =
        inProcessKind === "direct"
          ? // No forwardableErrors here: a direct call adds no response headers to its errors.
            createDirectTransport(collectImplementations(register))
          : createRouterTransport(register, {
              router: { readMaxBytes: maxMessageBytes(), writeMaxBytes: maxMessageBytes() },
              transport: { interceptors: [forwardableErrors] },
            });
      inProcess.set(name, transport);
    }
    return transport;
  };
  const client = <S extends DescService>(service: S, where: string, transport: () => Transport): Client<S> => {
    const key = `${service.typeName}@${where}`;
    let found = clients.get(key);
    if (!found) {
      found = serviceClient(service, transport());
      clients.set(key, found);
    }
    return found as Client<S>;
  };

  const serviceClientFor = <S extends DescService>(service: S, kind: "router" | "policy"): Client<S> => {
    const hosted = local.find((c) => c.name === kind);
    if (hosted) return client(service, `local:${kind}`, () => localTransport(kind, hosted.built));
    const url = serviceUrl(kind, config.current().config, env);
    return client(service, `remote:${url}`, () => remoteTransport(url, CALL_DEADLINE_MS[kind]));
  };

  const resolveAdapter = (adapterName: string, current: MeshConfig): Client<typeof AdapterService> | undefined => {
    const hosted = local.find((c) => c.adapterName === adapterName);
    if (hosted) return client(AdapterService, `local:${hosted.component.name}`, () => localTransport(hosted.component.name, hosted.built));
    const url = adapterUrl(adapterName, current, env);
    if (!url) return undefined;
    return client(AdapterService, `remote:${url}`, () => remoteTransport(url, CALL_DEADLINE_MS.adapter));
  };
  const adapterClients = new WeakMap<MeshConfig, Map<string, Client<typeof AdapterService> | undefined>>();

  return {
    get router() {
      return serviceClientFor(RouterService, "router");
    },
    get policy() {
      return serviceClientFor(PolicyService, "policy");
    },
    adapterFor(adapterName) {
      // Asked for every target of every request: resolved once per config
      // snapshot (an adapter's address may come from the config), not by
      // scanning components and the environment each time.
      const current = config.current().config;
      let resolved = adapterClients.get(current);
      if (!resolved) {
        resolved = new Map();
        adapterClients.set(current, resolved);
      }
      if (resolved.has(adapterName)) return resolved.get(adapterName);
      const found = resolveAdapter(adapterName, current);
      resolved.set(adapterName, found);
      return found;
    },
  };
}
