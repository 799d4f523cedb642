import { afterEach, describe, expect, it } from "vitest";
import { AdapterService } from "@llmmesh/proto";
import { startServer, type RunningServer } from "../server.js";
import { silentLogger } from "../logger.js";
import { ConfigStore } from "../config/store.js";
import { parseConfig } from "../config/load.js";
import { createMeshClients } from "./clients.js";

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

/** An adapter deployable that names itself in its probe answers. */
async function adapterNamed(name: string): Promise<string> {
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    services: [AdapterService],
    routes: (router) => router.service(AdapterService, { probe: () => ({ healthy: true, message: name }) }),
    maxMessageBytes: 1024 * 1024,
    logger: silentLogger,
  });
  servers.push(server);
  return server.url;
}

const configWith = (adapterUrl: string) => parseConfig(`adapters: { remote: "${adapterUrl}" }\nproviders: [{ name: far, adapter: remote }]\n`);

describe("createMeshClients().adapterFor", () => {
  it("follows a config revision that moves an adapter, resolving each adapter once per revision", async () => {
    const [first, second] = await Promise.all([adapterNamed("first"), adapterNamed("second")]);
    const store = new ConfigStore(configWith(first));
    // Each resolution first looks for a component hosted in this process.
    let resolutions = 0;
    const clients = createMeshClients(store, {}, {
      find: () => {
        resolutions++;
        return undefined;
      },
    });

    const before = clients.adapterFor("remote");
    expect(clients.adapterFor("remote")).toBe(before);
    expect((await before?.probe({}))?.message).toBe("first");
    expect(resolutions).toBe(1);

    store.apply(configWith(second));
    expect((await clients.adapterFor("remote")?.probe({}))?.message).toBe("second");
    clients.adapterFor("remote");
    expect(resolutions).toBe(2);
    expect(clients.adapterFor("unknown")).toBeUndefined();
  });
});
