import { Code, ConnectError, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { LightHandlerContext, nodeHeaders } from "./handler-context.js";
import { rpcPath } from "./unary-path.js";

type Request = Parameters<HttpHandler>[0];
type Response = Parameters<HttpHandler>[1];

/** The implementations of one kind (unary or server streaming), by request path. */
export function routesOfKind<K extends MethodImplSpec["kind"]>(
  implementations: readonly ServiceImplSpec[],
  kind: K,
): Map<string, Extract<MethodImplSpec, { kind: K }>> {
  const routes = new Map<string, Extract<MethodImplSpec, { kind: K }>>();
  for (const implementation of implementations) {
    for (const spec of Object.values(implementation.methods)) {
      if (spec.kind === kind) routes.set(rpcPath(spec.method), spec as Extract<MethodImplSpec, { kind: K }>);
    }
  }
  return routes;
}

/**
 * The server side of one call on a fast path: its handler context, and its
 * cancellation — the caller hanging up, or the deadline it sent in
 * `connect-timeout-ms` passing — which fires the context's signal (made only
 * if the implementation asks for it) and `onCancel`.
 */
export class ServerCall {
  readonly ctx: LightHandlerContext;
  #controller: AbortController | undefined;
  // Our own flag: HTTP/2 responses report writableFinished once reset.
  #answered = false;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onClose: () => void;

  constructor(
    method: DescMethod,
    req: Request,
    private readonly res: Response,
    onCancel?: () => void,
  ) {
    const header = req.headers["connect-timeout-ms"];
    const parsed = typeof header === "string" ? Number.parseInt(header, 10) : Number.NaN;
    const timeoutMs = Number.isFinite(parsed) ? parsed : undefined;
    this.ctx = new LightHandlerContext(method, "connect", req.url ?? "", () => this.signal, () => nodeHeaders(req.headers), timeoutMs);
    this.#onClose = () => {
      if (this.#answered) return;
      this.abort(new ConnectError("the caller went away", Code.Canceled));
      onCancel?.();
    };
    res.once("close", this.#onClose);
    this.#timer =
      timeoutMs === undefined ? undefined : setTimeout(() => this.abort(new ConnectError(`the deadline of ${timeoutMs} ms passed`, Code.DeadlineExceeded)), timeoutMs);
  }

  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Why the call was cancelled, if it was. */
  get cancelReason(): unknown {
    return this.#controller?.signal.aborted ? this.#controller.signal.reason : undefined;
  }

  abort(reason: ConnectError): void {
    (this.#controller ??= new AbortController()).abort(reason);
  }

  /** Call right before writing the final answer: a close after it is no cancellation. */
  markAnswered(): void {
    this.#answered = true;
  }

  /** Releases the deadline timer and the close listener. */
  finish(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.res.off("close", this.#onClose);
  }
}
