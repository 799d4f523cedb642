import { Code, ConnectError } from "@connectrpc/connect";

/** One enveloped message of a Connect stream: flags and payload. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/**
 * Splits a byte stream into Connect envelopes (1 flag byte, 4 length bytes,
 * payload) as bytes arrive, whatever the chunk boundaries. Refuses payloads
 * over `maxBytes` before buffering them.
 */
export class EnvelopeReader {
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds bytes; returns every envelope now complete. */
  push(chunk: Buffer): Envelope[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Envelope[] = [];
    for (;;) {
      if (this.#buffered < 5) return out;
      const head = this.#peek(5);
      const length = head.readUInt32BE(1);
      if (length > this.maxBytes) throw new ConnectError(`message larger than ${this.maxBytes} bytes`, Code.ResourceExhausted);
      if (this.#buffered < 5 + length) return out;
      const whole = this.#take(5 + length);
      out.push({ flags: whole[0]!, data: whole.subarray(5) });
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
