import type { CallOptions } from "@connectrpc/connect";
import { mapMessages, SKIP, startingWith } from "@llmmesh/common";
import type { Usage } from "@llmmesh/proto";
import { ApiError, ErrorType } from "../api-error.js";
import type { RequestContext } from "../request-context.js";

/** A router stream whose first message has arrived. */
export interface OpenedStream<Message> {
  readonly first: Message;
  /** The rest; stopping it (return() or throw()) cancels the router call. */
  readonly rest: AsyncIterator<Message>;
}

/**
 * Starts a streamed router call (`start` given the call options) and waits
 * for its first message before the endpoint answers, so errors that happen
 * before any output (auth, limits, every upstream failing) still get their
 * proper HTTP status instead of a 200 with an error event. The client
 * leaving cancels the call through `ctx.callOptions.signal`; a stream left
 * early is cancelled by stopping its iterator (mesh clients' iterators
 * cancel their call when stopped), so it needs no signal of its own.
 */
export async function openRouterStream<Message>(ctx: RequestContext, start: (options: CallOptions) => AsyncIterable<Message>): Promise<OpenedStream<Message>> {
  const messages = start(ctx.callOptions)[Symbol.asyncIterator]();
  const first = await messages.next();
  if (first.done) {
    throw new ApiError(502, "The upstream ended the stream without sending anything", ErrorType.Api, "upstream_error");
  }
  return { first: first.value, rest: messages };
}

/** What the client-side rendering of a chunk needs to know about it. */
interface UsageCarrier {
  readonly usage?: Usage;
  readonly choices: readonly unknown[];
}

/**
 * The stream's chunks as the client asked for them, each rendered by
 * `render`. Adapters always ask upstreams for usage (the router needs it for
 * accounting); a client that did not send `stream_options.include_usage` must
 * not see it, as with OpenAI itself.
 */
export function clientChunks<Chunk extends UsageCarrier>(
  stream: OpenedStream<{ chunk?: Chunk }>,
  includeUsage: boolean,
  render: (chunk: Chunk) => Record<string, unknown>,
): AsyncIterableIterator<Record<string, unknown>> {
  return streamedChunks(stream, (chunk) => chunkForClient(chunk, includeUsage, render));
}

/**
 * The chunks of a router stream, first one included, each through `map`
 * (an undefined result is skipped), whatever API renders them: no generator
 * (every generator layer adds promises that live from one chunk to the
 * next), and it flows (see message-flow.ts): written as it is, a chunk makes
 * no promise at all. Leaving it before the stream's end stops the
 * router stream, which cancels the call. Nothing here holds `stream` itself:
 * `stream.first` would stay reachable for as long as the stream lasts.
 */
export function streamedChunks<Chunk, Out>(stream: OpenedStream<{ chunk?: Chunk }>, map: (chunk: Chunk) => Out | undefined): AsyncIterableIterator<Out> {
  return mapMessages(startingWith(stream.first, stream.rest), {
    map: (message) => (message.chunk === undefined ? SKIP : (map(message.chunk) ?? SKIP)),
  });
}

function chunkForClient<Chunk extends UsageCarrier>(
  chunk: Chunk,
  includeUsage: boolean,
  render: (chunk: Chunk) => Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (includeUsage) return render(chunk);
  if (chunk.usage && chunk.choices.length === 0) return undefined;
  // Rendered afresh and trimmed, rather than clearing chunk.usage: the message
  // may be shared with an in-process router that still reads it.
  const json = render(chunk);
  delete json.usage;
  return json;
}
