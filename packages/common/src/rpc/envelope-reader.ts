import { Code, ConnectError } from "@connectrpc/connect";

/** One length-prefixed frame: its fixed-size head (ending in the payload's length) and its payload. */
export interface Frame {
  head: Buffer;
  data: Buffer;
}

/**
 * Splits a byte stream into length-prefixed frames as bytes arrive, whatever
 * the chunk boundaries: a head of `headBytes` whose last 4 bytes are the
 * payload's length (big-endian), then the payload. Refuses payloads over
 * `maxBytes` before buffering them.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(
    private readonly headBytes: number,
    private readonly maxBytes: number,
  ) {}

  /** Adds bytes; returns every frame now complete. */
  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Frame[] = [];
    const headBytes = this.headBytes;
    for (;;) {
      if (this.#buffered < headBytes) return out;
      const length = this.#peek(headBytes).readUInt32BE(headBytes - 4);
      if (length > this.maxBytes) throw new ConnectError(`message larger than ${this.maxBytes} bytes`, Code.ResourceExhausted);
      if (this.#buffered < headBytes + length) return out;
      const whole = this.#take(headBytes + length);
      out.push({ head: whole.subarray(0, headBytes), data: whole.subarray(headBytes) });
    }
  }

  /** True when bytes of an unfinished envelope are left over. */
  get pending(): boolean {
    return this.#buffered > 0;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const joined = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}

/**
 * Splits a byte stream into Connect envelopes (1 flag byte, 4 length bytes,
 * payload): each frame's flags are `head[0]`.
 */
export class EnvelopeReader extends FrameReader {
  constructor(maxBytes: number) {
    super(5, maxBytes);
  }
}

/** One envelope's bytes. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

/** The flag of Connect's final envelope, whose JSON payload carries the error and trailers. */
export const END_STREAM_FLAG = 0b10;
/** Content type of a binary Connect stream. */
export const STREAM_PROTO = "application/connect+proto";

/** `{}`: the final payload of a stream that succeeded without trailers, the common case. */
const EMPTY_END_JSON = new Uint8Array([0x7b, 0x7d]);

/** The final envelope of a stream that succeeded without trailers, encoded once. */
export const EMPTY_END_STREAM = envelope(END_STREAM_FLAG, EMPTY_END_JSON);

/** True for the payload of EMPTY_END_STREAM: such an end needs no JSON parsing. */
export function isEmptyEndStream(data: Uint8Array): boolean {
  return data.byteLength === EMPTY_END_JSON.byteLength && data[0] === EMPTY_END_JSON[0] && data[1] === EMPTY_END_JSON[1];
}
