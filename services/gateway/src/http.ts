import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/**
 * The part of a request that node:http's IncomingMessage and the http2
 * compat Http2ServerRequest share. The gateway uses nothing else, so one
 * handler serves HTTP/1.1 and HTTP/2 alike.
 */
export interface GatewayRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersionMajor: number;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close" | "aborted", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  resume(): unknown;
  destroy(error?: Error): unknown;
}

/** The part of a response that node:http's ServerResponse and Http2ServerResponse share. */
export interface GatewayResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  removeListener(event: "close" | "drain", listener: () => void): unknown;
  /** Closes the response at once (HTTP/1: its connection; HTTP/2: its stream). */
  destroy(error?: Error): unknown;
}
