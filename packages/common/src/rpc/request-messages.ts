import { Code, ConnectError } from "@connectrpc/connect";
import { create, isMessage, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { mapMessages, startingWith, type MessageStream } from "../stream-iterators.js";

/**
 * One value, as an async iterable that lets go of it once it has been read:
 * a call's one request message (a transport's request object stays
 * reachable for as long as its stream is open, since its signal is watched),
 * or an upstream request's body (undici keeps a body until the answer ends).
 * Either can be a whole conversation, and a generator would keep it in its
 * registers to the end.
 */
export function oneMessage<T>(message: T): MessageStream<T> {
  // startingWith lets go of its first value once it has handed it out.
  return startingWith(message, NOTHING_MORE as AsyncIterator<T>);
}

const NOTHING_MORE: AsyncIterator<never> = { next: () => Promise.resolve({ done: true, value: undefined }) };

/** The request messages of a call as real messages (callers may pass init objects); holds none once read. */
export function normalized<I extends DescMessage>(schema: I, input: AsyncIterable<MessageInitShape<I>>): AsyncIterable<MessageShape<I>> {
  return mapMessages(input[Symbol.asyncIterator](), { map: (message) => (isMessage(message, schema) ? message : create(schema, message)) });
}

/** The one request message of a server-streaming call. */
export async function firstMessage<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("missing request message", Code.InvalidArgument);
}
