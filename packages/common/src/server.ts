import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectRouter, ServiceImplSpec } from "@connectrpc/connect";
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { registerHealth } from "./health.js";
import { registerReflection } from "./reflection.js";
import { createFastUnaryHandler } from "./rpc/fast-unary-server.js";
import { createFastStreamHandler } from "./rpc/fast-stream-server.js";
import { MuxServerConnection, muxRoutes } from "./rpc/mux-server.js";
import { mayOpenWith, MUX_PREFACE } from "./rpc/mux-frames.js";
import { routesOfKind } from "./rpc/server-call.js";
import { recordingRouter } from "./mesh/direct-transport.js";
import type { Logger } from "./logger.js";

/** A plain HTTP handler for HTTP/1.1 and HTTP/2 requests alike (connect-node keeps its name private). */
export type HttpHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/** What a process serves on one port. */
export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Registers the RPC implementations. */
  routes: (router: ConnectRouter) => void;
  /** The services `routes` registers, for health and reflection. */
  services: readonly DescService[];
  /** Handles every request no RPC route matches: the REST edge, when this process has one. */
  fallback?: HttpHandler;
  /** Largest RPC message read or written. */
  maxMessageBytes: number;
  logger: Logger;
}

/** A listening server. */
export interface RunningServer {
  readonly port: number;
  /** `http://host:port`, for clients. */
  readonly url: string;
  /** Stops accepting, lets in-flight requests and streams finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/**
 * How long a new connection may stay silent before it is closed: Node's own
 * headersTimeout. Shorter cut real clients under overload, when the event
 * loop itself lags by seconds (seen at 10,000 concurrent streams).
 */
const SNIFF_TIMEOUT_MS = 60_000;

/**
 * Serves Connect, gRPC and gRPC-Web on one port, over HTTP/1.1 and cleartext
 * HTTP/2 both: the first bytes of a connection tell which (HTTP/2 with prior
 * knowledge opens with a fixed preface). So `@grpc/grpc-js` and grpcurl reach
 * the same port as curl and the OpenAI SDKs. Health and reflection are
 * always served.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const serviceNames = options.services.map((s) => s.typeName);
  let health: { setNotServing(): void } | undefined;
  // What is registered, also for the fast paths and the multiplexed connections (health included).
  const implementations: ServiceImplSpec[] = [];
  const handler = connectNodeAdapter({
    routes(connectRouter) {
      const router = recordingRouter(connectRouter, implementations);
      options.routes(router);
      health = registerHealth(router, serviceNames);
      registerReflection(
        router,
        options.services.map((s) => s.file),
        serviceNames,
      );
    },
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    fallback: options.fallback,
  });

  const fastUnary = createFastUnaryHandler(implementations, options.maxMessageBytes);
  // Streams arrive over Connect and over the mesh's multiplexed connections: one routing table for both.
  const streamRoutes = routesOfKind(implementations, "server_streaming");
  const fastStream = createFastStreamHandler(streamRoutes, options.maxMessageBytes);
  const multiplexedRoutes = muxRoutes(implementations, streamRoutes);
  const serve: HttpHandler = (req, res) => {
    if (!fastUnary(req, res) && !fastStream(req, res)) handler(req, res);
  };

  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, serve);
  // h1 never listens itself (the sniffing server hands it sockets), but Node
  // starts its connection tracking on "listening": without it header and
  // request timeouts are not enforced and closeIdleConnections() does nothing.
  h1.emit("listening");
  // Room for thousands of concurrent streams per connection (Node's default
  // session memory, 10 MB, resets the whole connection under load).
  const h2 = http2.createServer({ maxSessionMemory: 512, settings: { maxConcurrentStreams: 100_000, initialWindowSize: 1 << 20 } }, serve);
  const multiplexed = new Set<MuxServerConnection>();
  const sockets = new Set<net.Socket>();
  const undecided = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  // noDelay: answers are written as headers then body; with Nagle's
  // algorithm on, the second write waits for the peer's delayed ACK (~40 ms).
  // http.createServer sets it for its own sockets, but these are ours.
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // A connection that says nothing would otherwise wait forever (and hold up a graceful close).
    const onSilent = () => socket.destroy();
    socket.setTimeout(SNIFF_TIMEOUT_MS, onSilent);
    undecided.add(socket);
    sniff(socket, (protocol, rest) => {
      socket.setTimeout(0);
      socket.off("timeout", onSilent);
      undecided.delete(socket);
      if (protocol === "mux") {
        const connection = new MuxServerConnection(socket, multiplexedRoutes, options.maxMessageBytes, rest);
        multiplexed.add(connection);
        socket.once("close", () => multiplexed.delete(connection));
      } else {
        socket.unshift(rest);
        (protocol === "h2" ? h2 : h1).emit("connection", socket);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept queue: bursts of new connections (thousands of clients
    // reconnecting at once) would otherwise overflow Node's default of 511.
    server.listen({ port: options.port, host: options.host, backlog: 4096 }, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    async close(graceMs = 10_000) {
      health?.setNotServing();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of undecided) socket.destroy();
      for (const session of sessions) session.close();
      for (const connection of multiplexed) connection.goAway();
      h1.closeIdleConnections();
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      deadline.unref();
      // Idle keep-alive sockets close as their requests finish.
      const poll = setInterval(() => h1.closeIdleConnections(), 100);
      await closed;
      clearInterval(poll);
      clearTimeout(deadline);
    },
  };
}

/**
 * Reads just enough of a new connection to tell its protocol: HTTP/2 with
 * prior knowledge and the mesh's multiplexing open with fixed prefaces,
 * anything else is HTTP/1.1. `rest` is what was read past a multiplexing
 * preface, or everything read for the others.
 */
function sniff(socket: net.Socket, decide: (protocol: "h1" | "h2" | "mux", rest: Buffer) => void): void {
  let seen = Buffer.alloc(0);
  const couldBe = (preface: Buffer) => mayOpenWith(seen, preface);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = Buffer.concat([seen, chunk]);
    const http2 = couldBe(HTTP2_PREFACE);
    const mux = couldBe(MUX_PREFACE);
    if ((http2 && seen.length < HTTP2_PREFACE.length) || (mux && seen.length < MUX_PREFACE.length)) return;
    socket.off("readable", onReadable);
    if (mux) decide("mux", seen.subarray(MUX_PREFACE.length));
    else decide(http2 ? "h2" : "h1", seen);
  };
  socket.on("readable", onReadable);
}
