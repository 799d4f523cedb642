import { Code, ConnectError, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { LightHandlerContext, nodeHeaders, noop, type ContextSource } from "./handler-context.js";
import { rpcPath } from "./unary-path.js";
import { deadlineError } from "./call-signal.js";

type Request = Parameters<HttpHandler>[0];
type Response = Parameters<HttpHandler>[1];
/** Request headers as Node gives them (HTTP/2 pseudo-headers included). */
export type RawHeaders = Record<string, string | string[] | undefined>;

/** The implementations of one kind (unary or server streaming), by request path. */
export function routesOfKind<K extends MethodImplSpec["kind"]>(
  implementations: readonly ServiceImplSpec[],
  kind: K,
): Map<string, Extract<MethodImplSpec, { kind: K }>> {
  const routes = new Map<string, Extract<MethodImplSpec, { kind: K }>>();
  for (const implementation of implementations) {
    for (const spec of Object.values(implementation.methods)) {
      // The first registration of a path wins, as in Connect's own router.
      const path = rpcPath(spec.method);
      if (spec.kind === kind && !routes.has(path)) routes.set(path, spec as Extract<MethodImplSpec, { kind: K }>);
    }
  }
  return routes;
}

/**
 * The server side of one call on a fast path: its handler context, and its
 * cancellation — the caller hanging up, or the deadline it sent in
 * `connect-timeout-ms` passing — which fires the context's signal (made only
 * if the implementation asks for it), whoever follows the cancellation
 * without it (`followCancellation`) and, when the caller hung up, `onCancel`.
 */
export class ServerCall implements ContextSource {
  readonly ctx: LightHandlerContext;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown;
  #listeners: ((reason: unknown) => void)[] | undefined;
  // Our own flag: HTTP/2 responses report writableFinished once reset.
  #answered = false;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  #detach: (() => void) | undefined;
  /** Stops the implementation's work when the caller hangs up. */
  onCancel: (() => void) | undefined;

  /** A call answered on a Node response: its closing early is the caller going away. */
  static onResponse(method: DescMethod, req: Request, res: Response): ServerCall {
    const call = new ServerCall(method, req.url ?? "", req.headers);
    const left = () => call.callerLeft();
    res.once("close", left);
    call.#detach = () => res.off("close", left);
    return call;
  }

  constructor(
    method: DescMethod,
    url: string,
    private readonly headers: RawHeaders,
  ) {
    const header = headers["connect-timeout-ms"];
    const parsed = typeof header === "string" ? Number.parseInt(header, 10) : Number.NaN;
    const timeoutMs = Number.isFinite(parsed) ? parsed : undefined;
    this.ctx = new LightHandlerContext(method, "connect", url, this, timeoutMs);
    this.#timer =
      timeoutMs === undefined ? undefined : setTimeout(() => this.abort(deadlineError(timeoutMs)), timeoutMs);
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  followCancellation(listener: (reason: unknown) => void): () => void {
    if (this.#cancelled) {
      listener(this.#reason);
      return noop;
    }
    (this.#listeners ??= []).push(listener);
    return () => {
      const at = this.#listeners?.indexOf(listener) ?? -1;
      if (at >= 0) this.#listeners!.splice(at, 1);
    };
  }

  requestHeaders(): Headers {
    return nodeHeaders(this.headers);
  }

  rawRequestHeader(name: string): string | undefined {
    const value = name[0] === ":" ? undefined : this.headers[name];
    return typeof value === "string" ? value : undefined;
  }

  /** Why the call was cancelled, if it was. */
  get cancelReason(): unknown {
    return this.#cancelled ? this.#reason : undefined;
  }

  /** Cancels the call (once: later reasons are ignored), firing its signal if made and its followers. */
  abort(reason: ConnectError): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /** The caller hung up: unless the call was answered already, it is cancelled. */
  callerLeft(): void {
    if (this.#answered) return;
    this.abort(new ConnectError("the caller went away", Code.Canceled));
    this.onCancel?.();
  }

  /** Call right before writing the final answer: a close after it is no cancellation. */
  markAnswered(): void {
    this.#answered = true;
  }

  /** Releases the deadline timer and the close listener. */
  finish(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#detach?.();
    this.#detach = undefined;
  }
}
