import { Code, ConnectError } from "@connectrpc/connect";
import { create, isMessage, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";

/** The request messages of a call as real messages (callers may pass init objects). */
export async function* normalized<I extends DescMessage>(schema: I, input: AsyncIterable<MessageInitShape<I>>): AsyncIterable<MessageShape<I>> {
  for await (const message of input) yield isMessage(message, schema) ? message : create(schema, message);
}

/** The one request message of a server-streaming call. */
export async function firstMessage<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("missing request message", Code.InvalidArgument);
}
