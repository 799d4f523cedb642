import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";

/** Where a context's signal and request headers come from: the call it belongs to. */
export interface ContextSource {
  readonly signal: AbortSignal;
  /** All request headers, made when first asked for. */
  requestHeaders(): Headers;
  /** One request header by its lowercase name, read without making them all into Headers. */
  rawRequestHeader?(name: string): string | undefined;
  /** As `followCancellation`, for a source that can without making its signal. */
  followCancellation?(listener: (reason: unknown) => void): () => void;
}

/**
 * A HandlerContext for the mesh's own fast paths. Connect's
 * createHandlerContext makes three Headers, two abort controllers and a
 * deadline timer per call; most hops read none of them. Here each is made
 * on first use only, and what a call holds for as long as it lasts is its
 * source, not closures over it.
 */
export class LightHandlerContext implements HandlerContext {
  readonly requestMethod = "POST";
  #values: ContextValues | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;

  constructor(
    readonly method: DescMethod,
    readonly protocolName: string,
    readonly url: string,
    private readonly source: ContextSource,
    private readonly deadlineMs: number | undefined,
  ) {}

  get service() {
    return this.method.parent;
  }
  get signal(): AbortSignal {
    return this.source.signal;
  }
  get values(): ContextValues {
    return (this.#values ??= createContextValues());
  }
  timeoutMs(): number | undefined {
    return this.deadlineMs;
  }
  get requestHeader(): Headers {
    return (this.#requestHeader ??= this.source.requestHeaders());
  }
  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }
  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  /** One request header's value, as `requestHeader.get(name)` gives it, without making them all into Headers. */
  requestHeaderValue(name: string): string | null {
    if (this.#requestHeader !== undefined || this.source.rawRequestHeader === undefined) return this.requestHeader.get(name);
    return this.source.rawRequestHeader(name.toLowerCase()) ?? null;
  }

  /** As `followCancellation`, where the source can without making the signal; undefined where it cannot. */
  followCancellation(listener: (reason: unknown) => void): (() => void) | undefined {
    return this.source.followCancellation?.(listener);
  }

  /** The response headers, if the handler set any (without making them). */
  get responseHeaderIfAny(): Headers | undefined {
    return this.#responseHeader;
  }
  /**
   * The response headers, if the handler set any, for sending them: the
   * context lets go of them, since a stream's headers go out once and the
   * stream may last long. Set later, they would not be sent either way.
   */
  takeResponseHeader(): Headers | undefined {
    const headers = this.#responseHeader;
    this.#responseHeader = undefined;
    return headers;
  }
  /** The response trailers, if the handler set any (without making them). */
  get responseTrailerIfAny(): Headers | undefined {
    return this.#responseTrailer;
  }
}

/** Node's request headers as fetch Headers, without HTTP/2 pseudo-headers. */
export function nodeHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === "string" && name[0] !== ":") headers.set(name, value);
  }
  return headers;
}

/**
 * One request header of a call: read straight from what arrived on the
 * mesh's own fast paths (a Headers per call costs CPU, and a stream holds
 * it for as long as it lasts), from `requestHeader` elsewhere.
 */
export function requestHeaderValue(ctx: HandlerContext, name: string): string | null {
  return ctx instanceof LightHandlerContext ? ctx.requestHeaderValue(name) : ctx.requestHeader.get(name);
}

/**
 * Calls `listener` once, with the reason, when the call behind `ctx` is
 * cancelled (at once if it is); returns what stops listening. On the mesh's
 * fast paths this makes no AbortSignal: a handler that only passes the
 * cancellation on to a signal of its own (the router's deadline) would
 * otherwise cost two per call.
 */
export function followCancellation(ctx: HandlerContext, listener: (reason: unknown) => void): () => void {
  const unfollow = ctx instanceof LightHandlerContext ? ctx.followCancellation(listener) : undefined;
  if (unfollow !== undefined) return unfollow;
  const signal = ctx.signal;
  if (signal.aborted) {
    listener(signal.reason);
    return noop;
  }
  const onAbort = () => listener(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

export const noop = (): void => undefined;
