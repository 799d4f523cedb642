import { SseParser, chatChunkFromJson, completionChunkFromJson, type SseEvent } from "@llmmesh/openai-wire";
import type { ChatChunk, CompletionChunk } from "@llmmesh/proto";
import { PushedMessages } from "@llmmesh/common";
import type { UpstreamCall } from "../provider.js";
import type { UpstreamResponse } from "../../upstream-client.js";
import { invalidAnswer, mapUpstream, parseUpstreamJson } from "./response.js";
import { isErrorPayload, streamError } from "./errors.js";

/**
 * What is left of a body after `[DONE]` (normally only the chunked-encoding
 * terminator) is read in the background for up to this long, so the socket
 * can go back to the pool; an upstream that keeps the body open longer loses its socket.
 */
const DRAIN_TIMEOUT_MS = 5_000;

/** The chunks of a 200 streamed chat completion (see `sseChunks`). */
export function chatChunks(call: UpstreamCall, response: UpstreamResponse): Promise<AsyncIterator<ChatChunk>> {
  return sseChunks(call, response, chatChunkFromJson);
}

/** The chunks of a 200 streamed text completion (see `sseChunks`). */
export function completionChunks(call: UpstreamCall, response: UpstreamResponse): Promise<AsyncIterator<CompletionChunk>> {
  return sseChunks(call, response, completionChunkFromJson);
}

/**
 * The chunks of a 200 streamed answer, read by `parse`, each delivered as soon as its
 * SSE event is complete. `[DONE]` ends the stream, and so does the end of the
 * body for upstreams that never send it. An `error` event mid-stream, a
 * non-JSON event or a broken connection fails it with a mesh error. Stopping
 * early (the caller cancelled) closes the upstream response, and with it the socket.
 */
async function sseChunks<Chunk>(call: UpstreamCall, response: UpstreamResponse, parse: (json: unknown) => Chunk): Promise<AsyncIterator<Chunk>> {
  const { status } = response;
  if (!isEventStream(response)) {
    // Some upstreams answer a stream request with a JSON error (or a whole completion) and 200.
    const json = parseUpstreamJson(call, status, await call.readText(response), "stream");
    if (isErrorPayload(json)) throw streamError(call, status, json);
    throw invalidAnswer(call, status, "stream", "it is not text/event-stream");
  }
  return readSseChunks(call, response, parse);
}

/**
 * Reads the body with 'data' events straight into the chunk queue: no
 * iterator or generator per layer, so a chunk costs one promise here.
 */
function readSseChunks<Chunk>(call: UpstreamCall, { body, status }: UpstreamResponse, parse: (json: unknown) => Chunk): AsyncIterator<Chunk> {
  const parser = new SseParser();
  // Only the time spent waiting for bytes is the upstream's; the time a
  // consumer takes with the chunks (or holds the body paused) is ours.
  let since = performance.now();
  let sawDone = false;
  const chunks = new PushedMessages<Chunk>({
    pause: () => body.pause(),
    resume: () => {
      since = performance.now();
      body.resume();
    },
    stop: () => release(),
  });
  /** Queues the chunks of complete events; false once the stream is over ([DONE] or a bad event). */
  const deliver = (events: readonly SseEvent[]): boolean => {
    for (const event of events) {
      if (event.data === "[DONE]") {
        sawDone = true;
        chunks.end();
        release();
        return false;
      }
      if (event.data.trim() === "") continue;
      const json = parseUpstreamJson(call, status, event.data, "stream event");
      if (event.event === "error" || isErrorPayload(json)) throw streamError(call, status, json);
      chunks.push(mapUpstream(call, status, "stream chunk", () => parse(json)));
    }
    return true;
  };
  const failWith = (err: unknown) => {
    chunks.fail(err);
    release();
  };
  const onData = (bytes: Uint8Array) => {
    call.waited(since);
    try {
      if (!deliver(parser.push(bytes))) return;
    } catch (err) {
      failWith(err);
      return;
    }
    since = performance.now();
  };
  const onEnd = () => {
    try {
      if (deliver(parser.end())) chunks.end();
    } catch (err) {
      chunks.fail(err);
    }
    release();
  };
  const onError = (err: unknown) => failWith(call.failure(err));
  let released = false;
  /** Stops reading; what is left of an unfinished body is drained after [DONE], else dropped with its socket. */
  const release = () => {
    if (released) return;
    released = true;
    body.off("data", onData);
    body.off("end", onEnd);
    body.off("error", onError);
    if (body.readableEnded) return;
    if (sawDone) {
      drainRest(body);
    } else {
      // Destroying an unfinished undici body emits 'error' (RequestAbortedError). Nobody
      // reads it any more, and once the upstream has sent the whole body undici attaches
      // no listener of its own: unheard, that error would take the process down.
      body.on("error", ignoreError);
      body.destroy();
    }
  };
  body.on("data", onData);
  body.on("end", onEnd);
  body.on("error", onError);
  return chunks;
}

/**
 * Reads what is left of a body after `[DONE]` and drops it, so the socket can
 * go back to the pool; past DRAIN_TIMEOUT_MS the body is destroyed with its
 * socket. One plain timer, cleared when the body closes: `AbortSignal.timeout`
 * cannot be cleared, so every stream would keep a signal and a timer alive for
 * the whole timeout and build a DOMException when it fired.
 */
function drainRest(body: UpstreamResponse["body"]): void {
  const timer = setTimeout(() => body.destroy(), DRAIN_TIMEOUT_MS);
  body.on("error", ignoreError);
  body.once("close", () => clearTimeout(timer));
  body.on("data", ignoreData);
  body.resume();
}

function ignoreData(): void {}

function ignoreError(): void {}

function isEventStream(response: UpstreamResponse): boolean {
  const type = response.headers["content-type"];
  const value = Array.isArray(type) ? type[0] : type;
  // Absent content type: assume a stream, as lenient OpenAI clients do.
  return value === undefined || value.toLowerCase().includes("text/event-stream");
}
