import type { ConnectError } from "@connectrpc/connect";
import type { AdapterProtocol, Logger } from "@llmmesh/common";
import type { UpstreamAnswer, UpstreamResponse } from "../upstream-client.js";

/**
 * A provider's config with its secrets resolved. Lives only inside this
 * process: never logged, never sent in an RPC, never put in an error.
 */
export interface ResolvedProvider {
  readonly name: string;
  /** The wire protocol (a key of the registry in ./index.ts). */
  readonly protocol: string;
  readonly baseUrl: URL;
  /** The resolved API key, if the provider has one. */
  readonly apiKey: string | undefined;
  /** Extra upstream headers, names lower-cased, values resolved. */
  readonly headers: Readonly<Record<string, string>>;
  /** Longest wait for response headers and longest silence inside a body. */
  readonly timeoutMs: number;
  /** Protocol-specific settings from config. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Every resolved secret value, so upstream error messages can be scrubbed of them. */
  readonly secrets: readonly string[];
}

/** An HTTP request a protocol asks for; the call adds the base URL, timeout and cancellation. */
export interface ProtocolRequest {
  readonly method: "GET" | "POST";
  /** The endpoint below the base URL, e.g. `/chat/completions`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Everything a protocol needs for one upstream call. */
export interface UpstreamCall {
  readonly provider: ResolvedProvider;
  /** Aborts when the RPC is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Sends a request to this provider and returns at its headers (for a stream); transport failures arrive as mesh errors. */
  send(request: ProtocolRequest): Promise<UpstreamResponse>;
  /** Sends a request to this provider and reads its whole answer; failures as for `send`. */
  fetch(request: ProtocolRequest): Promise<UpstreamAnswer>;
  /** Reads a whole body as text; failures while reading arrive as mesh errors. */
  readText(response: UpstreamResponse): Promise<string>;
  /** Turns a failure while reading a body (for example a stream) into a mesh error. */
  failure(err: unknown): ConnectError;
  /**
   * Counts the time since `since` (a `performance.now()`) as spent waiting on
   * the upstream; `send`, `fetch` and `readText` count theirs, a protocol reading a
   * body itself (a stream) counts its reads.
   */
  waited(since: number): void;
}

/** The result of a health probe. */
export type { ProbeResult } from "@llmmesh/common";

/**
 * One upstream wire protocol. Implementations hold every quirk of their
 * protocol (paths, auth headers, body shapes, error format); the service
 * around them knows none. Failures are thrown as mesh errors
 * (`meshError`), precise enough for the router to decide on retries.
 */
export type ProviderProtocol = AdapterProtocol<UpstreamCall>;
