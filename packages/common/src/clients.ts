import { createClient, type CallOptions, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { lazyMessages, mapMessages } from "./stream-iterators.js";
import { createFastStreamClient } from "./rpc/fast-stream-client.js";
import { oneMessage } from "./rpc/request-messages.js";
import { createFastUnaryTransport, type ClosableTransport } from "./rpc/fast-unary-client.js";
import { muxPeerFor } from "./rpc/mux-client.js";
import type { DescMethodServerStreaming, DescService } from "@bufbuild/protobuf";

/** Settings every internal client shares. */
export interface TransportOptions {
  /** Largest message read or written. */
  maxMessageBytes: number;
  /** Deadline for calls that set none of their own. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
  /** False: never on the peer's multiplexed connection; unary calls over HTTP/1.1, streams over HTTP/2. */
  multiplex?: boolean;
}

/**
 * A transport to another mesh service over the network, speaking the Connect
 * protocol with binary messages: every call on one multiplexed connection
 * (the mesh's own framing, see rpc/mux-frames.ts); to a peer that does not
 * speak it, unary calls over pooled keep-alive HTTP/1.1 and streams over one
 * cleartext HTTP/2 connection.
 */
export function createServiceTransport(baseUrl: string, options: TransportOptions): ClosableTransport {
  const mux = options.multiplex === false ? undefined : muxPeerFor(baseUrl, options.maxMessageBytes);
  const streaming = createFastStreamClient(baseUrl, { ...options, mux });
  const transport = createFastUnaryTransport(baseUrl, { ...options, streaming, mux });
  return {
    ...transport,
    async close() {
      mux?.close();
      streaming.close();
      await transport.close();
    },
  };
}

/**
 * A typed client of `service` on `transport`: Connect's, except that
 * server-streaming methods hand out the transport's own message iterator
 * rather than wrapping it in a generator (promises per message, kept from one
 * to the next). Their iterators also have return(), which stops the call.
 */
export function serviceClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const client = createClient(service, transport) as Record<string, unknown>;
  for (const method of service.methods) {
    if (method.methodKind !== "server_streaming") continue;
    const streaming = method as DescMethodServerStreaming;
    client[method.localName] = (input: Record<string, unknown>, options?: CallOptions) => {
      // Started at once, as Connect's client does; its failure surfaces at the first next().
      const response = transport.stream(streaming, options?.signal, options?.timeoutMs, options?.headers, oneMessage(input), options?.contextValues);
      return lazyMessages(async () => {
        // Header and trailer are read only for a caller that asked: a transport may make them on demand.
        const started = await response;
        if (options?.onHeader) options.onHeader(started.header);
        const messages = started.message[Symbol.asyncIterator]();
        const onTrailer = options?.onTrailer;
        if (onTrailer === undefined) return messages;
        return mapMessages(messages, { finish: (complete) => complete && onTrailer(started.trailer) });
      });
    };
  }
  return client as Client<S>;
}
