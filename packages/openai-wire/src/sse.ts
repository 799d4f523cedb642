/**
 * Server-sent events (`text/event-stream`), both ways: an incremental parser
 * for upstream streams and a formatter for the streams the edge sends.
 * Follows the WHATWG event-stream rules: `\n`, `\r\n` and `\r` line ends,
 * `field: value` with one optional space after the colon, multi-line `data`
 * joined with `\n`, comment lines (`: ping`) ignored, a leading BOM dropped.
 */

/** One dispatched event. `event` and `id` are present only when the event carried them. */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

const LINE_END = /\r\n|\r|\n/g;
const LF = 10;

/**
 * Incremental `text/event-stream` parser: push bytes as they arrive, get the
 * events they complete. Bytes may be split anywhere — inside a line, between
 * `\r` and `\n`, inside a multi-byte UTF-8 character — and the result is the
 * same as for the whole stream at once. One parser per stream.
 */
export class SseParser {
  // `fatal: false`: a broken byte becomes U+FFFD rather than killing the
  // stream; the default BOM handling drops a leading BOM, as the spec asks.
  private readonly decoder = new TextDecoder("utf-8");
  /** The start of a line whose end has not arrived yet. */
  private pending = "";
  /** The previous text ended with `\r`: a `\n` starting the next text ends no new line. */
  private afterCr = false;
  /**
   * Emptied in place after each event, not replaced: a parser lives as long
   * as its stream, so a new array per event would be promoted to old space
   * with it, and once dropped it would keep the next event's data (and the
   * text it was sliced from) alive until a full collection.
   */
  private readonly dataLines: string[] = [];
  private eventType: string | undefined;
  private eventId: string | undefined;

  /** Feeds the next bytes; returns the events they complete (often none). */
  push(bytes: Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(bytes, { stream: true }));
  }

  /**
   * Ends the stream: flushes undecoded bytes and the last line. An event whose
   * data arrived without the closing blank line is still returned — servers
   * that close right after their last `data:` line are common, and dropping
   * their final event would lose an answer.
   */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode());
    if (this.pending.length > 0) {
      this.line(this.pending, events);
      this.pending = "";
    }
    this.dispatch(events);
    this.afterCr = false;
    return events;
  }

  private feed(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    if (text.length === 0) return events;
    let start = 0;
    if (this.afterCr) {
      this.afterCr = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    LINE_END.lastIndex = start;
    let match: RegExpExecArray | null;
    while ((match = LINE_END.exec(text)) !== null) {
      const line = this.pending + text.slice(start, match.index);
      this.pending = "";
      start = match.index + match[0].length;
      // A `\r` at the very end may be the first half of a `\r\n` split across pushes.
      if (match[0] === "\r" && start === text.length) this.afterCr = true;
      this.line(line, events);
    }
    this.pending += text.slice(start);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(events);
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // comment, e.g. ": ping" keep-alives
    let field = line;
    let value = "";
    if (colon > 0) {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case "data":
        this.dataLines.push(value);
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.eventId = value;
        break;
      default:
        break; // `retry` and unknown fields mean nothing to a server-side reader
    }
  }

  private dispatch(events: SseEvent[]): void {
    if (this.dataLines.length > 0) {
      const event: SseEvent = { data: this.dataLines.join("\n") };
      if (this.eventType !== undefined && this.eventType !== "") event.event = this.eventType;
      if (this.eventId !== undefined) event.id = this.eventId;
      events.push(event);
    }
    this.dataLines.length = 0;
    this.eventType = undefined;
    this.eventId = undefined;
  }
}

/**
 * Renders one event: `data: <data>\n\n`, preceded by `event: <event>\n` when
 * given. Data with line breaks becomes several `data:` lines, which a reader
 * joins back with `\n`.
 */
export function formatSse(data: string, event?: string): string {
  const head = event === undefined ? "" : `event: ${event}\n`;
  if (!/[\r\n]/.test(data)) return `${head}data: ${data}\n\n`;
  return `${head}${data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("")}\n`;
}
