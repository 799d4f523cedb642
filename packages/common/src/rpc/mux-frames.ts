import type * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { FrameReader } from "./envelope-reader.js";

/**
 * The mesh's own stream multiplexing, spoken between its services on their
 * usual port (a connection that opens with MUX_PREFACE). Many calls share
 * one TCP connection, each a few small frames, without the native state an
 * HTTP/2 stream costs in Node (about 10 KB per stream end) or the parsing an
 * HTTP/1.1 request costs. A unary call is a stream whose answer is one
 * message.
 * Each frame: type (1 byte), stream id (4), payload length (4), payload.
 */
export const MUX_PREFACE = Buffer.from("LLMMESH-MUX/1\r\n\r\n");

/** Bytes of a frame's head. */
export const MUX_HEAD_BYTES = 9;

export const MuxFrame = {
  /** Client: opens a stream. Payload: u32 length of a JSON object of headers (`:path` among them), that JSON, the request message. */
  Open: 1,
  /** Client: the caller stopped; the server stops the call. */
  Cancel: 2,
  /** Client: stop sending this stream's messages until Resume (its consumer is behind). */
  Pause: 3,
  Resume: 4,
  /** Server: the response headers, a JSON object. */
  Headers: 5,
  /** Server: one message. */
  Message: 6,
  /** Server: the stream's end. Payload: Connect's end-of-stream JSON, or nothing for a success without trailers. */
  End: 7,
  /** Server, stream 0: no new streams on this connection. */
  GoAway: 8,
} as const;
export type MuxFrameType = (typeof MuxFrame)[keyof typeof MuxFrame];

/** One frame's bytes. */
export function muxFrame(type: MuxFrameType, stream: number, payload?: Uint8Array): Buffer {
  const length = payload?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(MUX_HEAD_BYTES + length);
  out[0] = type;
  out.writeUInt32BE(stream, 1);
  out.writeUInt32BE(length, 5);
  if (payload) out.set(payload, MUX_HEAD_BYTES);
  return out;
}

/** Largest headers of an Open frame, as JSON: the room a frame has beside the largest message. */
const MAX_OPEN_HEADER_BYTES = 64 * 1024;

/**
 * An Open frame. Headers over MAX_OPEN_HEADER_BYTES are refused here, for
 * this call alone: the peer would take the frame for a broken connection.
 */
export function muxOpenFrame(stream: number, headers: Record<string, string>, request: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(headers));
  if (json.length > MAX_OPEN_HEADER_BYTES) throw new ConnectError(`request headers larger than ${MAX_OPEN_HEADER_BYTES} bytes`, Code.ResourceExhausted);
  const length = 4 + json.length + request.byteLength;
  const frame = Buffer.allocUnsafe(MUX_HEAD_BYTES + length);
  frame[0] = MuxFrame.Open;
  frame.writeUInt32BE(stream, 1);
  frame.writeUInt32BE(length, 5);
  frame.writeUInt32BE(json.length, MUX_HEAD_BYTES);
  json.copy(frame, MUX_HEAD_BYTES + 4);
  frame.set(request, MUX_HEAD_BYTES + 4 + json.length);
  return frame;
}

/** An Open frame's payload: its headers (`:path` among them) and the request message's bytes. */
export function readOpenFrame(payload: Buffer): { headers: Record<string, string | undefined>; request: Buffer } {
  const jsonBytes = payload.readUInt32BE(0);
  return {
    headers: JSON.parse(payload.toString("utf8", 4, 4 + jsonBytes)) as Record<string, string | undefined>,
    request: payload.subarray(4 + jsonBytes),
  };
}

/** The frames of one direction of a connection. */
export function muxFrameReader(maxMessageBytes: number): FrameReader {
  return new FrameReader(MUX_HEAD_BYTES, maxMessageBytes + 4 + MAX_OPEN_HEADER_BYTES);
}

/** True while the bytes read so far agree with `preface` (all of it, or as much as has arrived). */
export function mayOpenWith(seen: Buffer, preface: Buffer): boolean {
  const length = Math.min(seen.length, preface.length);
  return seen.subarray(0, length).equals(preface.subarray(0, length));
}

/**
 * Frames written in one turn of the event loop leave in one write: with
 * thousands of streams on a connection, a write per frame would be a
 * system call per token.
 */
export class BatchedWriter {
  #corked = false;
  #drained: Promise<void> | undefined;

  constructor(
    private readonly socket: net.Socket,
    /** Bytes queued beyond which senders wait for the socket to drain. */
    private readonly highWaterMark = 1 << 20,
  ) {}

  /** Queues a frame; a promise means the socket is behind: wait before sending more. */
  write(frame: Buffer): Promise<void> | undefined {
    const socket = this.socket;
    if (socket.destroyed) return undefined;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      setImmediate(this.#uncork);
    }
    socket.write(frame);
    return socket.writableLength > this.highWaterMark ? this.#whenDrained() : undefined;
  }

  readonly #uncork = () => {
    this.#corked = false;
    this.socket.uncork();
  };

  #whenDrained(): Promise<void> {
    return (this.#drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        this.#drained = undefined;
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    }));
  }
}
