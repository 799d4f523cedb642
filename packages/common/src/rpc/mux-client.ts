import * as net from "node:net";
import { BatchedWriter, mayOpenWith, MUX_PREFACE, MuxFrame, muxFrame, muxFrameReader, muxOpenFrame } from "./mux-frames.js";

/**
 * What becomes of one stream opened on a multiplexed connection. A unary
 * call is a stream too: its one message, then the end.
 */
export interface MuxStreamSink {
  headers(headers: Record<string, string>): void;
  message(bytes: Buffer): void;
  /** The stream's end: Connect's end-of-stream JSON, or nothing for a success without trailers. */
  end(endOfStream: Buffer): void;
  /** The connection was lost before the stream's end. */
  lost(err: Error): void;
}

/** The host (IPv6 without brackets) and port a peer's base URL names. */
export function peerAddress(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) };
}

/** The multiplexed connection to the peer at `baseUrl` (http://host:port), made on first use. */
export function muxPeerFor(baseUrl: string, maxMessageBytes: number): MuxPeer {
  const { host, port } = peerAddress(new URL(baseUrl));
  return new MuxPeer(host, port, maxMessageBytes);
}

/** A stream opened on a multiplexed connection, as its caller controls it. */
export interface MuxStream {
  /** Stops the stream: the server cancels the call, and nothing more reaches the sink. */
  cancel(): void;
  pause(): void;
  resume(): void;
}

/** How long a peer that does not speak the multiplexing is not asked again. */
const REFUSED_FOR_MS = 30_000;
/** How long the peer may take to answer the preface. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The multiplexed connection to one peer, opened on first use and again
 * after it is lost or told to go away. A peer that answers the preface with
 * anything else (an older build, or a server of plain HTTP/2) is not asked
 * again for a while: callers then use HTTP/2.
 */
export class MuxPeer {
  #live: MuxConnection | undefined;
  #connecting: Promise<MuxConnection | undefined> | undefined;
  #refusedUntil = 0;
  #closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxMessageBytes: number,
  ) {}

  /** A usable connection, or undefined when the peer does not speak the multiplexing (or cannot be reached). */
  connection(): MuxConnection | Promise<MuxConnection | undefined> | undefined {
    const live = this.#live;
    if (live?.usable) return live;
    if (this.#closed || Date.now() < this.#refusedUntil) return undefined;
    return (this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined)));
  }

  close(): void {
    this.#closed = true;
    this.#live?.close();
    this.#live = undefined;
  }

  #connect(): Promise<MuxConnection | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.host, port: this.port, noDelay: true, keepAlive: true });
      let seen = Buffer.alloc(0);
      const settle = (connection: MuxConnection | undefined, refused: boolean) => {
        socket.off("data", onData);
        socket.off("error", onError);
        socket.off("close", onClose);
        socket.setTimeout(0);
        socket.off("timeout", onTimeout);
        if (refused) this.#refusedUntil = Date.now() + REFUSED_FOR_MS;
        if (!connection) {
          // Whatever the socket still reports, nobody is listening for it now.
          socket.on("error", () => {});
          socket.destroy();
        }
        else if (this.#closed) connection.close();
        else this.#live = connection;
        resolve(this.#closed ? undefined : connection);
      };
      const onData = (chunk: Buffer) => {
        seen = Buffer.concat([seen, chunk]);
        if (!mayOpenWith(seen, MUX_PREFACE)) return settle(undefined, true);
        if (seen.length < MUX_PREFACE.length) return;
        settle(new MuxConnection(socket, seen.subarray(MUX_PREFACE.length), this.maxMessageBytes), false);
      };
      // Unreachable: HTTP/2 will say so in its own words.
      const onError = () => settle(undefined, false);
      const onClose = () => settle(undefined, true);
      const onTimeout = () => settle(undefined, true);
      socket.on("data", onData);
      socket.on("error", onError);
      socket.on("close", onClose);
      socket.setTimeout(HANDSHAKE_TIMEOUT_MS, onTimeout);
      socket.write(MUX_PREFACE);
    });
  }
}

/** The client side of one multiplexed connection. */
export class MuxConnection {
  readonly #streams = new Map<number, MuxSink>();
  readonly #writer: BatchedWriter;
  #nextId = 1;
  #draining = false;
  #lost = false;

  constructor(
    private readonly socket: net.Socket,
    rest: Buffer,
    maxMessageBytes: number,
  ) {
    this.#writer = new BatchedWriter(socket);
    const reader = muxFrameReader(maxMessageBytes);
    const onData = (chunk: Buffer) => {
      try {
        for (const { head, data } of reader.push(chunk)) this.#frame(head[0]!, head.readUInt32BE(1), data);
      } catch (err) {
        this.#lose(err as Error);
      }
    };
    socket.on("data", onData);
    socket.on("error", (err) => this.#lose(err));
    socket.once("close", () => this.#lose(new Error("connection closed")));
    if (rest.length > 0) onData(rest);
  }

  /** False once lost or told to go away: new streams need a new connection. */
  get usable(): boolean {
    return !this.#draining && !this.#lost;
  }

  /** Opens a stream: `headers` (the method's path as `:path`) and the one request message. */
  open(headers: Record<string, string>, request: Uint8Array, sink: MuxStreamSink): MuxStream {
    const id = this.#takeId();
    const frame = muxOpenFrame(id, headers, request);
    const entry = new MuxSink(this, id, sink);
    this.#streams.set(id, entry);
    this.#writer.write(frame);
    return entry;
  }

  /** Sends a control frame of a stream; a cancel also forgets the stream. */
  control(type: typeof MuxFrame.Cancel | typeof MuxFrame.Pause | typeof MuxFrame.Resume, id: number): void {
    if (!this.#streams.has(id)) return;
    if (type === MuxFrame.Cancel) this.#streams.delete(id);
    this.#writer.write(muxFrame(type, id));
    if (type === MuxFrame.Cancel) this.#endIfDrained();
  }

  close(): void {
    this.socket.destroy();
  }

  #takeId(): number {
    let id = this.#nextId;
    while (this.#streams.has(id)) id = id >= 0xffffffff ? 1 : id + 1;
    this.#nextId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  #frame(type: number, id: number, data: Buffer): void {
    if (type === MuxFrame.GoAway) {
      this.#draining = true;
      return this.#endIfDrained();
    }
    // Frames of a stream the caller cancelled may still be on the way.
    const stream = this.#streams.get(id);
    if (!stream) return;
    switch (type) {
      case MuxFrame.Headers:
        return stream.sink.headers(JSON.parse(data.toString("utf8")) as Record<string, string>);
      case MuxFrame.Message:
        return stream.sink.message(data);
      case MuxFrame.End:
        this.#streams.delete(id);
        stream.sink.end(data);
        return this.#endIfDrained();
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  }

  #endIfDrained(): void {
    if (this.#draining && this.#streams.size === 0) this.socket.end();
  }

  #lose(err: Error): void {
    if (this.#lost) return;
    this.#lost = true;
    this.socket.destroy();
    const open = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of open) stream.sink.lost(err);
  }
}

/** One open stream: its sink, and its controls. */
class MuxSink implements MuxStream {
  constructor(
    private readonly connection: MuxConnection,
    private readonly id: number,
    readonly sink: MuxStreamSink,
  ) {}

  cancel(): void {
    this.connection.control(MuxFrame.Cancel, this.id);
  }
  pause(): void {
    this.connection.control(MuxFrame.Pause, this.id);
  }
  resume(): void {
    this.connection.control(MuxFrame.Resume, this.id);
  }
}
