import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chatChunkFromJson, chatChunkToJson } from "./chat-chunk.js";
import { formatSse, SseParser, type SseEvent } from "./sse.js";

const encoder = new TextEncoder();

function parseAll(chunks: Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(chunk));
  events.push(...parser.end());
  return events;
}

describe("SseParser", () => {
  it.each<[string, string, SseEvent[]]>([
    ["one event", "data: {\"a\":1}\n\n", [{ data: "{\"a\":1}" }]],
    ["OpenAI stream end", "data: {\"a\":1}\n\ndata: [DONE]\n\n", [{ data: "{\"a\":1}" }, { data: "[DONE]" }]],
    ["CRLF line ends", "data: a\r\n\r\ndata: b\r\n\r\n", [{ data: "a" }, { data: "b" }]],
    ["CR line ends", "data: a\r\rdata: b\r\r", [{ data: "a" }, { data: "b" }]],
    ["mixed line ends", "data: a\r\ndata: b\n\rdata: c\r\r\n", [{ data: "a\nb" }, { data: "c" }]],
    ["multi-line data", "data: line 1\ndata: line 2\ndata:\n\n", [{ data: "line 1\nline 2\n" }]],
    ["no space after colon, only one space stripped", "data:x\ndata:  y\n\n", [{ data: "x\n y" }]],
    ["comments and keep-alives", ": ping\n\n: OPENROUTER PROCESSING\ndata: a\n\n", [{ data: "a" }]],
    ["event and id fields (Anthropic style)", "event: message_start\nid: 7\ndata: {}\n\n", [{ event: "message_start", id: "7", data: "{}" }]],
    ["event type resets after dispatch", "event: ping\ndata: 1\n\ndata: 2\n\n", [{ event: "ping", data: "1" }, { data: "2" }]],
    ["an event without data is not dispatched", "event: ping\n\ndata: x\n\n", [{ data: "x" }]],
    ["retry and unknown fields ignored", "retry: 1000\nfoo: bar\ndata: x\n\n", [{ data: "x" }]],
    ["field without colon", "data\n\n", [{ data: "" }]],
    ["leading BOM", "\uFEFFdata: x\n\n", [{ data: "x" }]],
    ["colon inside the value", "data: {\"url\":\"https://x\"}\n\n", [{ data: "{\"url\":\"https://x\"}" }]],
    ["last event without the closing blank line", "data: a\n\ndata: b", [{ data: "a" }, { data: "b" }]],
    ["multi-byte UTF-8", "data: héllo 👋 世界\n\n", [{ data: "héllo 👋 世界" }]],
    ["empty stream", "", []],
  ])("%s", (_name, text, expected) => {
    expect(parseAll([encoder.encode(text)])).toEqual(expected);
  });

  const stream =
    "\uFEFF: keep-alive\r\n\r\n" +
    "event: delta\r\nid: 1\r\ndata: {\"content\":\"héllo 👋\"}\r\n\r\n" +
    "data: line one\rdata: 世界\r\r" +
    "data: {\"x\":\"€\"}\n\n" +
    "data: [DONE]\n\n";
  const expected: SseEvent[] = [
    { event: "delta", id: "1", data: "{\"content\":\"héllo 👋\"}" },
    { data: "line one\n世界" },
    { data: "{\"x\":\"€\"}" },
    { data: "[DONE]" },
  ];
  const bytes = encoder.encode(stream);

  it("gives the same events for a split at every byte offset", () => {
    for (let i = 0; i <= bytes.length; i++) {
      expect(parseAll([bytes.subarray(0, i), bytes.subarray(i)]), `split at ${i}`).toEqual(expected);
    }
  });

  it("gives the same events for every pair of split points", () => {
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const parts = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
        expect(parseAll(parts), `split at ${i} and ${j}`).toEqual(expected);
      }
    }
  });

  it("gives the same events one byte at a time", () => {
    const single = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(parseAll(single)).toEqual(expected);
  });

  it("returns events as soon as they are complete", () => {
    const parser = new SseParser();
    expect(parser.push(encoder.encode("data: a\n"))).toEqual([]);
    expect(parser.push(encoder.encode("\ndata: b\n"))).toEqual([{ data: "a" }]);
    expect(parser.end()).toEqual([{ data: "b" }]);
  });
});

describe("formatSse", () => {
  it.each<[string, string, string | undefined, string]>([
    ["JSON data", "{\"a\":1}", undefined, "data: {\"a\":1}\n\n"],
    ["stream end", "[DONE]", undefined, "data: [DONE]\n\n"],
    ["named event", "{\"error\":{}}", "error", "event: error\ndata: {\"error\":{}}\n\n"],
    ["data with line breaks", "a\nb\r\nc", undefined, "data: a\ndata: b\ndata: c\n\n"],
  ])("%s", (_name, data, event, text) => {
    expect(formatSse(data, event)).toBe(text);
  });

  it("carries a recorded OpenAI stream through format → parse → chunk unchanged", () => {
    const chunks = JSON.parse(
      readFileSync(new URL("./testdata/chat-stream-tool-calls.json", import.meta.url), "utf8"),
    ) as Array<Record<string, unknown>>;
    const wire = chunks.map((c) => formatSse(JSON.stringify(chatChunkToJson(chatChunkFromJson(c))))).join("") + formatSse("[DONE]");
    const events = parseAll([encoder.encode(wire)]);
    expect(events.at(-1)).toEqual({ data: "[DONE]" });
    expect(events.slice(0, -1).map((e) => JSON.parse(e.data) as unknown)).toEqual(chunks);
  });
});
