import type { CallOptions } from "@connectrpc/connect";
import { mapMessages, SKIP, startingWith } from "@llmmesh/common";
import type { Usage } from "@llmmesh/proto";
import { ApiError, ErrorType } from "../api-error.js";
import type { RequestContext } from "../request-context.js";

/** A router stream whose first message has arrived. */
export interface OpenedStream<Message> {
  readonly first: Message;
  readonly rest: AsyncIterator<Message>;
  /** Releases the stream's signal; with `cancel`, cancels the router call (a stream left before its end). */
  readonly stop: (cancel: boolean) => void;
}

/**
 * Starts a streamed router call (`start` given the call options) and waits
 * for its first message before the endpoint answers, so errors that happen
 * before any output (auth, limits, every upstream failing) still get their
 * proper HTTP status instead of a 200 with an error event.
 */
export async function openRouterStream<Message>(ctx: RequestContext, start: (options: CallOptions) => AsyncIterable<Message>): Promise<OpenedStream<Message>> {
  // Connect's client iterators have no return(): a stream left early is
  // cancelled through its own signal, which also follows the client.
  const controller = new AbortController();
  const clientSignal = ctx.callOptions.signal;
  const follow = () => controller.abort(clientSignal?.reason);
  if (clientSignal?.aborted) follow();
  else clientSignal?.addEventListener("abort", follow, { once: true });
  const stop = (cancel: boolean) => {
    clientSignal?.removeEventListener("abort", follow);
    if (cancel && !controller.signal.aborted) controller.abort();
  };
  try {
    const messages = start({ ...ctx.callOptions, signal: controller.signal })[Symbol.asyncIterator]();
    const first = await messages.next();
    if (first.done) {
      throw new ApiError(502, "The upstream ended the stream without sending anything", ErrorType.Api, "upstream_error");
    }
    return { first: first.value, rest: messages, stop };
  } catch (err) {
    stop(false);
    throw err;
  }
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
 * (an undefined result is skipped), whatever API renders them: one `then`
 * per chunk, no generator (every generator layer adds promises that live from
 * one chunk to the next). Leaving it before the stream's end cancels the router call.
 */
export function streamedChunks<Chunk, Out>(stream: OpenedStream<{ chunk?: Chunk }>, map: (chunk: Chunk) => Out | undefined): AsyncIterableIterator<Out> {
  // `stop` alone, not `stream`: the closures live as long as the stream, and
  // `stream.first` would keep the first message for all of it.
  const stop = stream.stop;
  return mapMessages(startingWith(stream.first, stream.rest), {
    map: (message) => (message.chunk === undefined ? SKIP : (map(message.chunk) ?? SKIP)),
    finish: (complete) => stop(!complete),
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
