import type { OutgoingHttpHeaders } from "node:http";
import type { ApiError } from "./api-error.js";
import type { Dialect } from "./dialect.js";
import type { GatewayResponse } from "./http.js";
import type { RequestContext } from "./request-context.js";
import { commonHeaders } from "./response.js";
import { sendEach } from "@llmmesh/common";

/**
 * Writes a `text/event-stream` response: one event per JSON value, then the
 * dialect's end marker (OpenAI's `data: [DONE]`). A failure after the headers
 * went out cannot change the status any more, so it is written as a final
 * error event in the dialect's envelope (no end marker): the client always
 * learns the stream did not complete.
 * Waits for 'drain' when the client reads slower than we produce, and stops
 * (closing `events`, which cancels the call behind it) when the client leaves.
 */
export async function writeEventStream(
  res: GatewayResponse,
  ctx: RequestContext,
  events: AsyncIterable<Record<string, unknown>>,
  headers: OutgoingHttpHeaders | undefined,
  toApiError: (err: unknown) => ApiError,
  dialect: Dialect,
): Promise<void> {
  res.writeHead(200, {
    ...commonHeaders(ctx, dialect),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    // Tells nginx-style proxies not to buffer the stream.
    "x-accel-buffering": "no",
    // Connection headers are HTTP/1 only; on HTTP/2 they are a protocol error.
    ...(ctx.isHttp1 ? { connection: "keep-alive" } : {}),
    ...headers,
  });
  flattenHead(res);
  // Each event is written the moment it arrives, through calls (sendEach):
  // a promise per event would wait from one event to the next, long enough
  // to be promoted to old space, and keep the event it resolves with alive
  // until the next full collection (with thousands of slow streams, most of
  // the gateway's garbage). A write the client is slow to take returns its
  // promise, and the next event waits for it; false (the client left) stops
  // the stream, and the call behind it.
  const sending = sendEach(events[Symbol.asyncIterator](), (event) => write(res, ctx, dialect.formatEvent(event)));
  // The end marker, or the error event, leaves with the end of the response: one write, not two.
  let last = "";
  try {
    if ((await sending.finished) === "stopped") return;
    last = dialect.streamEnd;
  } catch (err) {
    // A failure of the stream's own has ended it; one of ours while writing an event has stopped it.
    last = dialect.formatEvent(dialect.errorBody(toApiError(err), ctx.requestId));
  } finally {
    ctx.markEnded();
    if (last === "" || ctx.clientGone) res.end();
    else res.end(last);
  }
}

/**
 * node:http builds an HTTP/1 response's head by appending each header to a
 * string, and keeps that string (`_header`) for as long as the response
 * lasts: a rope of about fifty pieces, 1.3 KB more than the flat text. A
 * stream lasts long, so its head is flattened: reading a character of a rope
 * makes V8 replace it, in place, by one flat string. HTTP/2 responses keep
 * no such string; nothing happens for them.
 */
function flattenHead(res: GatewayResponse): void {
  const head: unknown = (res as { _header?: unknown })._header;
  if (typeof head === "string") head.charCodeAt(0);
}

/**
 * Writes `text`: true when the client may take more at once, else a promise
 * of true once it may, false if it is gone. Not an async function: most
 * writes need no wait, and a promise per chunk would be garbage per chunk.
 */
function write(res: GatewayResponse, ctx: RequestContext, text: string): boolean | Promise<boolean> {
  if (ctx.clientGone) return false;
  if (res.write(text)) return true;
  return new Promise<boolean>((resolve) => {
    const finish = (writable: boolean) => {
      res.removeListener("drain", onDrain);
      ctx.signal.removeEventListener("abort", onGone);
      resolve(writable);
    };
    const onDrain = () => finish(true);
    const onGone = () => finish(false);
    res.on("drain", onDrain);
    ctx.signal.addEventListener("abort", onGone);
  });
}
