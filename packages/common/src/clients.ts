import * as net from "node:net";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createFastUnaryTransport, type ClosableTransport } from "./rpc/fast-unary-client.js";
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
 * A transport to another mesh service over the network: unary calls take the
 * fast path (Connect, binary, pooled HTTP/1.1); streams use the Connect
 * protocol over one multiplexed cleartext HTTP/2 session, pinged while idle
 * so a dead peer is noticed.
 */
export function createServiceTransport(baseUrl: string, options: TransportOptions): ClosableTransport {
  const { hostname, port } = new URL(baseUrl);
  const sessionManager = new Http2SessionManager(
    baseUrl,
    { pingIntervalMs: 30_000, pingIdleConnection: true },
    // Node's HTTP/2 client leaves Nagle's algorithm on: a request's HEADERS
    // and DATA frames go out as two writes, and the second waits for the
    // peer's delayed ACK (~40 ms per stream).
    { createConnection: () => net.connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 80), noDelay: true }) },
  );
  const streaming = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    sessionManager,
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    defaultTimeoutMs: options.defaultTimeoutMs,
    interceptors: options.interceptors,
  });
  const transport = createFastUnaryTransport(baseUrl, { ...options, streaming });
  return {
    ...transport,
    async close() {
      sessionManager.abort();
      await transport.close();
    },
  };
}

/** A typed client of `service` on `transport`. */
export function serviceClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  return createClient(service, transport);
}
