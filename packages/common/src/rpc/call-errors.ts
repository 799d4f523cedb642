import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { isEmptyEndStream } from "./envelope-reader.js";

/** A call to a peer that was lost on the way (its connection or stream closed, or failed). */
export function unavailable(origin: string, err: unknown): ConnectError {
  return new ConnectError(`lost the call to ${origin}: ${(err as Error)?.message ?? String(err)}`, Code.Unavailable, undefined, undefined, err);
}

/**
 * The end-of-stream message. Connect's parser builds a ConnectError (stack
 * trace included) on every call, just in case; the common empty end needs no parsing.
 */
export function endOfStream(data: Uint8Array): { metadata: Headers; error?: ConnectError } {
  if (isEmptyEndStream(data)) return { metadata: new Headers() };
  return endStreamFromJson(data);
}
