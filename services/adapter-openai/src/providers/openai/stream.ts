import { SseParser, chatChunkFromJson, completionChunkFromJson, type SseEvent } from "@llmmesh/openai-wire";
import type { ChatChunk, CompletionChunk } from "@llmmesh/proto";
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
export function chatChunks(call: UpstreamCall, response: UpstreamResponse): AsyncGenerator<ChatChunk> {
  return sseChunks(call, response, chatChunkFromJson);
}

/** The chunks of a 200 streamed text completion (see `sseChunks`). */
export function completionChunks(call: UpstreamCall, response: UpstreamResponse): AsyncGenerator<CompletionChunk> {
  return sseChunks(call, response, completionChunkFromJson);
}

/**
 * The chunks of a 200 streamed answer, read by `parse`, each yielded as soon as its
 * SSE event is complete (nothing is buffered beyond one event). `[DONE]` ends
 * the stream, and so does the end of the body for upstreams that never send
 * it. An `error` event mid-stream, a non-JSON event or a broken connection
 * throws a mesh error. Stopping early (the caller cancelled) closes the
 * upstream response, and with it the socket.
 */
async function* sseChunks<Chunk>(call: UpstreamCall, response: UpstreamResponse, parse: (json: unknown) => Chunk): AsyncGenerator<Chunk> {
  const { body, status } = response;
  if (!isEventStream(response)) {
    // Some upstreams answer a stream request with a JSON error (or a whole completion) and 200.
    const json = parseUpstreamJson(call, status, await call.readText(response), "stream");
    if (isErrorPayload(json)) throw streamError(call, status, json);
    throw invalidAnswer(call, status, "stream", "it is not text/event-stream");
  }
  let sawDone = false;
  try {
    for await (const event of sseEvents(call, body)) {
      if (event.data === "[DONE]") {
        sawDone = true;
        break;
      }
      if (event.data.trim() === "") continue;
      const json = parseUpstreamJson(call, status, event.data, "stream event");
      if (event.event === "error" || isErrorPayload(json)) throw streamError(call, status, json);
      yield mapUpstream(call, status, "stream chunk", () => parse(json));
    }
  } finally {
    if (!body.readableEnded) {
      if (sawDone) {
        // The limit counts bytes already read too, so it is effectively off; the timeout bounds the drain.
        void body.dump({ limit: Number.MAX_SAFE_INTEGER, signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS) }).catch(() => undefined);
      } else {
        // Destroying an unfinished undici body emits 'error' (RequestAbortedError). Nobody
        // reads it any more, and once the upstream has sent the whole body undici attaches
        // no listener of its own: unheard, that error would take the process down.
        body.on("error", ignoreError);
        body.destroy();
      }
    }
  }
}

/** SSE events from the body as they complete; read failures become mesh errors. */
async function* sseEvents(call: UpstreamCall, body: UpstreamResponse["body"]): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  // destroyOnReturn: false lets the caller stop at [DONE] and still drain the socket for reuse.
  const bytes = body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Uint8Array>;
  try {
    // Only the time spent waiting for bytes is the upstream's; the time a
    // consumer takes with each event is ours.
    let since = performance.now();
    for await (const chunk of bytes) {
      call.waited(since);
      yield* parser.push(chunk);
      since = performance.now();
    }
  } catch (err) {
    throw call.failure(err);
  }
  yield* parser.end();
}

function ignoreError(): void {}

function isEventStream(response: UpstreamResponse): boolean {
  const type = response.headers["content-type"];
  const value = Array.isArray(type) ? type[0] : type;
  // Absent content type: assume a stream, as lenient OpenAI clients do.
  return value === undefined || value.toLowerCase().includes("text/event-stream");
}
