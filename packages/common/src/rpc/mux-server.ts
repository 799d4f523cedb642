import type * as net from "node:net";
import { Code, ConnectError, type HandlerContext, type ServiceImplSpec } from "@connectrpc/connect";
import { endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { fromBinary } from "@bufbuild/protobuf";
import { serveStream, startImplementation, type StreamAnswer, type StreamSpec } from "./fast-stream-server.js";
import { BatchedWriter, MUX_PREFACE, MuxFrame, muxFrame, muxFrameReader, readOpenFrame } from "./mux-frames.js";
import { routesOfKind, ServerCall } from "./server-call.js";

const encoder = new TextEncoder();

/**
 * What a multiplexed connection serves, by path: the streaming methods, and
 * the unary ones as streams of their one answer (the same frames: headers,
 * the message, the end with trailers or the error).
 */
export function muxRoutes(implementations: readonly ServiceImplSpec[], streams: ReadonlyMap<string, StreamSpec>): Map<string, StreamSpec> {
  const routes = new Map(streams);
  for (const [path, spec] of routesOfKind(implementations, "unary")) {
    if (routes.has(path)) continue;
    const impl = spec.impl as (request: unknown, ctx: HandlerContext) => Promise<unknown> | unknown;
    routes.set(path, { kind: "server_streaming", method: spec.method, impl: (request: unknown, ctx: HandlerContext) => new OneAnswer(impl(request, ctx)) } as unknown as StreamSpec);
  }
  return routes;
}

/** A unary answer as an iterator of one output: lighter than an async generator per call. */
class OneAnswer<T> implements AsyncIterableIterator<T> {
  #taken = false;

  readonly #answer: Promise<T>;

  constructor(answer: Promise<T> | T) {
    this.#answer = Promise.resolve(answer);
    // A call cancelled before its answer is read never reads it: its failure must not go unhandled (and take the process down).
    this.#answer.catch(() => {});
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.#taken) return { done: true, value: undefined };
    this.#taken = true;
    return { done: false, value: await this.#answer };
  }

  async return(): Promise<IteratorResult<T>> {
    this.#taken = true;
    return { done: true, value: undefined };
  }
}

/**
 * The server side of one multiplexed connection (see mux-frames.ts): every
 * stream it opens runs as a call of `routes` (see muxRoutes), exactly as
 * over Connect. A frame it cannot read ends the connection.
 */
export class MuxServerConnection {
  readonly #streams = new Map<number, MuxAnswer>();
  readonly writer: BatchedWriter;
  #goingAway = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly routes: ReadonlyMap<string, StreamSpec>,
    private readonly maxMessageBytes: number,
    /** Bytes read past the preface while telling the protocol. */
    rest: Buffer,
  ) {
    this.writer = new BatchedWriter(socket);
    const reader = muxFrameReader(maxMessageBytes);
    const onData = (chunk: Buffer) => {
      try {
        for (const { head, data } of reader.push(chunk)) this.#frame(head[0]!, head.readUInt32BE(1), data);
      } catch {
        socket.destroy();
      }
    };
    socket.on("data", onData);
    socket.once("close", () => {
      const left = [...this.#streams.values()];
      this.#streams.clear();
      for (const stream of left) stream.callerLeft();
    });
    socket.write(MUX_PREFACE);
    if (rest.length > 0) onData(rest);
  }

  /** Takes no new streams, and closes the connection once the open ones end. */
  goAway(): void {
    if (this.#goingAway) return;
    this.#goingAway = true;
    this.writer.write(muxFrame(MuxFrame.GoAway, 0));
    if (this.#streams.size === 0) this.socket.end();
  }

  ended(id: number): void {
    this.#streams.delete(id);
    if (this.#goingAway && this.#streams.size === 0) this.socket.end();
  }

  #frame(type: number, id: number, data: Buffer): void {
    switch (type) {
      case MuxFrame.Open:
        return this.#open(id, data);
      case MuxFrame.Cancel:
        return this.#streams.get(id)?.callerLeft();
      case MuxFrame.Pause:
        return this.#streams.get(id)?.pause();
      case MuxFrame.Resume:
        return this.#streams.get(id)?.resume();
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  }

  #open(id: number, data: Buffer): void {
    if (this.#streams.has(id)) throw new Error(`stream ${id} is open already`);
    const answer = new MuxAnswer(this, id);
    const { headers, request: requestBytes } = readOpenFrame(data);
    if (this.#goingAway) return answer.fail(new ConnectError("the server is shutting down", Code.Unavailable));
    const path = headers[":path"];
    const spec = typeof path === "string" ? this.routes.get(path) : undefined;
    if (!spec) return answer.fail(new ConnectError(`no method at ${String(path)}`, Code.Unimplemented));
    let request;
    try {
      request = fromBinary(spec.method.input, requestBytes);
    } catch (err) {
      return answer.fail(new ConnectError(`cannot decode ${spec.method.input.typeName}`, Code.InvalidArgument, undefined, undefined, err));
    }
    const call = new ServerCall(spec.method, path as string, headers);
    answer.call = call;
    this.#streams.set(id, answer);
    void serveStream(spec, call, answer, this.maxMessageBytes, startImplementation(spec, request, call.ctx));
  }
}

/** One stream's answer, with the pause its client asks for. */
class MuxAnswer implements StreamAnswer {
  call: ServerCall | undefined;
  #ended = false;
  #gone = false;
  #paused = false;
  #resume: (() => void) | undefined;

  constructor(
    private readonly connection: MuxServerConnection,
    private readonly id: number,
  ) {}

  get over(): boolean {
    return this.#ended || this.#gone;
  }

  head(headers: Record<string, string>): void {
    this.connection.writer.write(muxFrame(MuxFrame.Headers, this.id, encoder.encode(JSON.stringify(headers))));
  }

  message(bytes: Uint8Array): Promise<void> | undefined {
    const behind = this.connection.writer.write(muxFrame(MuxFrame.Message, this.id, bytes));
    if (!this.#paused) return behind;
    return new Promise<void>((resolve) => (this.#resume = resolve));
  }

  end(endOfStream: Uint8Array | undefined): void {
    this.#ended = true;
    this.connection.writer.write(muxFrame(MuxFrame.End, this.id, endOfStream));
    this.connection.ended(this.id);
  }

  /** Ends a stream that never started, with `error`. */
  fail(error: ConnectError): void {
    this.end(encoder.encode(JSON.stringify(endStreamToJson(new Headers(), error, {}))));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake();
  }

  callerLeft(): void {
    this.#gone = true;
    this.connection.ended(this.id);
    this.#wake();
    this.call?.callerLeft();
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}
