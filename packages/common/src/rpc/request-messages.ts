import { Code, ConnectError } from "@connectrpc/connect";
import { create, isMessage, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { mapMessages, type MessageStream } from "../stream-iterators.js";

/**
 * The one request message of a server-streaming call, as an iterable that
 * lets go of it once it has been read. A transport's request object stays
 * reachable for as long as its stream is open (its signal is watched), and a
 * request can be a whole conversation: a generator would keep it in its
 * registers to the end.
 */
export function oneMessage<T>(message: T): MessageStream<T> {
  return new OneMessage(message);
}

class OneMessage<T> implements MessageStream<T> {
  #pending: { value: T } | undefined;

  constructor(message: T) {
    this.#pending = { value: message };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const pending = this.#pending;
    this.#pending = undefined;
    return Promise.resolve(pending === undefined ? { done: true, value: undefined } : { done: false, value: pending.value });
  }

  return(): Promise<IteratorResult<T>> {
    this.#pending = undefined;
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#pending = undefined;
    return Promise.reject(err);
  }
}

/** The request messages of a call as real messages (callers may pass init objects); holds none once read. */
export function normalized<I extends DescMessage>(schema: I, input: AsyncIterable<MessageInitShape<I>>): AsyncIterable<MessageShape<I>> {
  return mapMessages(input[Symbol.asyncIterator](), { map: (message) => (isMessage(message, schema) ? message : create(schema, message)) });
}

/** The one request message of a server-streaming call. */
export async function firstMessage<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("missing request message", Code.InvalidArgument);
}
