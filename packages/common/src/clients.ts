import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";

/** Settings every internal client shares. */
export interface TransportOptions {
  /** Largest message read or written. */
  maxMessageBytes: number;
  /** Deadline for calls that set none of their own. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
}

/**
 * A transport to another mesh service over the network: the Connect
 * protocol, binary protobuf, over one multiplexed cleartext HTTP/2 session
 * that is pinged while idle so a dead peer is noticed.
 */
export function createServiceTransport(baseUrl: string, options: TransportOptions): Transport {
  const sessionManager = new Http2SessionManager(baseUrl, { pingIntervalMs: 30_000, pingIdleConnection: true });
  return createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    sessionManager,
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    defaultTimeoutMs: options.defaultTimeoutMs,
    interceptors: options.interceptors,
  });
}

/** A typed client of `service` on `transport`. */
export function serviceClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  return createClient(service, transport);
}
