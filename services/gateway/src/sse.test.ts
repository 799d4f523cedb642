import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isCollectable } from "../../../test/support/collectable.js";
import { ApiError } from "./api-error.js";
import { OPENAI_DIALECT } from "./dialect.js";
import { RequestContext } from "./request-context.js";
import { writeEventStream } from "./sse.js";

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/**
 * Events as the gateway's stream of chunks gives them: the first at once,
 * the second when `release` is called, then the end. A hand-made iterator,
 * not a generator: a generator's own frame could keep what it yielded.
 */
function eventsThenHold() {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let sent: WeakRef<object> | undefined;
  let calls = 0;
  let stopped = false;
  const events: AsyncIterableIterator<Record<string, unknown>> = {
    [Symbol.asyncIterator]: () => events,
    next: () => {
      calls++;
      if (calls === 1) {
        const event = { id: "chatcmpl-1", choices: [{ index: 0, delta: { content: "first" } }] };
        sent = new WeakRef(event);
        return Promise.resolve({ done: false, value: event });
      }
      if (calls === 2) return held.then(() => ({ done: false, value: { id: "chatcmpl-1", choices: [{ index: 0, delta: { content: "second" } }] } }));
      return Promise.resolve({ done: true, value: undefined });
    },
    return: () => {
      stopped = true;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return { events, release, sent: () => sent, calls: () => calls, stopped: () => stopped };
}

/** The stream on a server of its own; `clientGone` says, for each response closed, whether that was the client going away. */
async function serve(events: AsyncIterable<Record<string, unknown>>): Promise<{ url: string; clientGone: boolean[] }> {
  const clientGone: boolean[] = [];
  server = http.createServer((req, res) => {
    const ctx = new RequestContext(req, res);
    res.on("close", () => clientGone.push(ctx.clientGone));
    void writeEventStream(res, ctx, events, undefined, (err) => new ApiError(500, String(err), "api_error", null), OPENAI_DIALECT);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clientGone };
}

describe("writeEventStream", () => {
  it("lets go of each event once it is written, while the stream stays open", async () => {
    const stream = eventsThenHold();
    const res = await fetch((await serve(stream.events)).url);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain('"content":"first"');
    // Waiting for the next event, as a slow stream does between tokens.
    await expect.poll(() => stream.calls()).toBe(2);
    expect(await isCollectable(stream.sent()!)).toBe(true);
    stream.release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
    expect(text.split("\n\n").filter(Boolean)).toEqual([
      'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"first"}}]}',
      'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"second"}}]}',
      "data: [DONE]",
    ]);
    expect(stream.stopped()).toBe(false);
  });

  it("stops the events when the client leaves", async () => {
    const stream = eventsThenHold();
    const controller = new AbortController();
    const { url, clientGone } = await serve(stream.events);
    const res = await fetch(url, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await expect.poll(() => clientGone).toEqual([true]);
    // The next event finds the client gone: the stream is stopped, as leaving a for-await loop would.
    stream.release();
    await expect.poll(() => stream.stopped()).toBe(true);
  });

  it("stops the events, and ends with an error event, when one cannot be written", async () => {
    let stopped = false;
    const events: AsyncIterableIterator<Record<string, unknown>> = {
      [Symbol.asyncIterator]: () => events,
      // JSON has no BigInt: formatting this event throws.
      next: () => Promise.resolve({ done: false, value: { id: "chatcmpl-1", tokens: 1n } }),
      return: () => {
        stopped = true;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
    const text = await (await fetch((await serve(events)).url)).text();
    expect(stopped).toBe(true);
    expect(text).toMatch(/^data: \{"error":\{"message":"TypeError: Do not know how to serialize a BigInt".*\}\n\n$/);
  });
});
