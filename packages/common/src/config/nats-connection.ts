import type { NatsConnection } from "nats";

/**
 * nats, loaded on the first connection: a service without NATS_URL never
 * connects, and loading the client costs a process about 2 MiB of heap.
 */
const natsClient = () => import("nats");

/** First reconnect delay; doubled per failed round, up to the maximum. */
const FIRST_RECONNECT_DELAY_MS = 250;
/** Longest pause between reconnect rounds. */
export const MAX_RECONNECT_DELAY_MS = 5_000;

/** How a service connects. */
export interface ServiceConnectionOptions {
  /** One URL or several, comma-separated (a cluster). */
  url: string;
  /** Shown in the server's connection list, e.g. "llmmesh router <instance>". */
  name: string;
  maxReconnectDelayMs?: number;
}

/**
 * Connects a long-running service: waits as long as it takes for the first
 * connection, and after a loss reconnects forever with exponential backoff
 * (250 ms doubling to 5 s) so a NATS outage never takes the service down and
 * a fleet does not hammer a recovering server in lockstep. Subscriptions
 * come back by themselves; key-value watches are redone by the caller on
 * each `reconnect` status.
 */
export function connectService(options: ServiceConnectionOptions): Promise<NatsConnection> {
  const max = options.maxReconnectDelayMs ?? MAX_RECONNECT_DELAY_MS;
  let round = 0;
  const pending = natsClient().then(({ connect }) =>
    connect({
      servers: splitServers(options.url),
      name: options.name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: FIRST_RECONNECT_DELAY_MS,
      // Called once per round through the server list.
      reconnectDelayHandler: () => {
        const base = Math.min(max, FIRST_RECONNECT_DELAY_MS * 2 ** round);
        round = Math.min(round + 1, 16);
        return Math.round(base / 2 + Math.random() * (base / 2));
      },
      pingInterval: 10_000,
      maxPingOut: 2,
    }),
  );
  return pending.then((nc) => {
    // A successful reconnect starts the next outage's backoff from the beginning.
    void (async () => {
      for await (const status of nc.status()) if (status.type === "reconnect") round = 0;
    })();
    return nc;
  });
}

/** Connects a short-lived client (the CLI): one attempt, a clear error when NATS is not there. */
export async function connectClient(url: string, name = "llmmesh-cli"): Promise<NatsConnection> {
  try {
    const { connect } = await natsClient();
    return await connect({ servers: splitServers(url), name, timeout: 5_000, maxReconnectAttempts: 2, reconnectTimeWait: 500 });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function splitServers(url: string): string[] {
  return url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
