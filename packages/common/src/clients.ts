import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createFastStreamClient } from "./rpc/fast-stream-client.js";
import { createFastUnaryTransport, type ClosableTransport } from "./rpc/fast-unary-client.js";
import { createClient } from "./rpc/light-client.js";
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
 * A transport to another mesh service over the network, speaking the Connect
 * protocol with binary messages: unary calls over pooled keep-alive
 * HTTP/1.1, streams multiplexed on one cleartext HTTP/2 connection.
 */
export function createServiceTransport(baseUrl: string, options: TransportOptions): ClosableTransport {
  const streaming = createFastStreamClient(baseUrl, options);
  const transport = createFastUnaryTransport(baseUrl, { ...options, streaming });
  return {
    ...transport,
    async close() {
      streaming.close();
      await transport.close();
    },
  };
}

/** A typed client of `service` on `transport`. */
export function serviceClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  return createClient(service, transport);
}
