import { createClient as createConnectClient, type CallOptions, type Client, type StreamResponse, type Transport } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import type { DescMethodServerStreaming, DescService } from "@bufbuild/protobuf";

/**
 * A typed client of `service` on `transport`: Connect's own client, except
 * that server-streaming methods return a plain iterator over the transport's
 * messages. Connect's streaming client is compiled to down-levelled async
 * generators: a dozen closures, promises and generator objects per call that
 * live as long as the stream, and extra promises for every message. With
 * thousands of open streams that was a large share of each stream's memory.
 * Behaviour is Connect's: the call starts when iteration starts, `onHeader`
 * and `onTrailer` are called, and the iterator has no `return()` (a stream
 * left early is cancelled through its signal, as with Connect's client).
 */
export function createClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const client = createConnectClient(service, transport) as Record<string, unknown>;
  for (const method of service.methods) {
    if (method.methodKind === "server_streaming") client[method.localName] = serverStreamingFn(transport, method as DescMethodServerStreaming);
  }
  return client as Client<S>;
}

function serverStreamingFn(transport: Transport, method: DescMethodServerStreaming) {
  return (input: unknown, options?: CallOptions) =>
    new ResponseMessages(
      () => transport.stream(method, options?.signal, options?.timeoutMs, options?.headers, createAsyncIterable([input as never]), options?.contextValues),
      options,
    );
}

/** The response messages of a server-streaming call: the transport's own iterator, opened on first use. */
class ResponseMessages<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private messages: AsyncIterator<T> | undefined;
  private trailer: Headers | undefined;
  private opening: Promise<unknown> | undefined;

  constructor(
    private readonly open: () => Promise<StreamResponse>,
    private readonly options: CallOptions | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const messages = this.messages;
    if (messages === undefined) {
      this.opening ??= this.open().then((response) => {
        this.options?.onHeader?.(response.header);
        this.trailer = response.trailer;
        this.messages = (response.message as AsyncIterable<T>)[Symbol.asyncIterator]();
      });
      return this.opening.then(() => this.next());
    }
    const onTrailer = this.options?.onTrailer;
    if (onTrailer === undefined) return messages.next();
    return messages.next().then((result) => {
      if (result.done === true && this.trailer !== undefined) onTrailer(this.trailer);
      return result;
    });
  }
}
