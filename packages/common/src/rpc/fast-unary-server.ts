import { ConnectError, Code, createContextValues, type ContextValues, type HandlerContext, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { create, fromBinary, toBinary, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { rpcPath, UNARY_PROTO } from "./unary-path.js";

type Request = Parameters<HttpHandler>[0];
type Response = Parameters<HttpHandler>[1];
type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

/**
 * The hot path of every internal hop: Connect unary calls with binary
 * messages, served straight from the Node request — one buffer in, one
 * buffer out — instead of through the general handler's stream plumbing
 * (several times the CPU per call, measured in bench/). The bytes on the
 * wire are the Connect protocol's, so any Connect client may take this
 * path; everything else (streams, JSON, gRPC, gRPC-Web, compression) goes to
 * the general handler.
 *
 * Returns a handler that answers and returns true when a request is its
 * to take, or returns false without touching it.
 */
export function createFastUnaryHandler(implementations: readonly ServiceImplSpec[], maxMessageBytes: number): (req: Request, res: Response) => boolean {
  const routes = new Map<string, UnarySpec>();
  for (const implementation of implementations) {
    for (const spec of Object.values(implementation.methods)) {
      if (spec.kind === "unary") routes.set(rpcPath(spec.method), spec);
    }
  }
  return (req, res) => {
    if (req.method !== "POST" || req.headers["content-type"] !== UNARY_PROTO) return false;
    const encoding = req.headers["content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const spec = routes.get(req.url ?? "");
    if (!spec) return false;
    serve(spec, req, res, maxMessageBytes);
    return true;
  };
}

function serve(spec: UnarySpec, req: Request, res: Response, maxMessageBytes: number): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxMessageBytes) {
      if (!refused) writeError(res, new ConnectError(`message larger than ${maxMessageBytes} bytes`, Code.ResourceExhausted));
      refused = true;
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (!refused) void answer(spec, req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  });
}

/**
 * The HandlerContext of one fast call. Headers and the abort signal are made
 * on first use only: most hops never read them, and each costs more than the
 * rest of the context.
 */
class FastUnaryContext implements HandlerContext {
  readonly protocolName = "connect";
  readonly requestMethod = "POST";
  #controller: AbortController | undefined;
  #values: ContextValues | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;

  constructor(
    readonly method: DescMethodUnary,
    readonly url: string,
    private readonly rawHeader: Request["headers"],
    private readonly deadlineMs: number | undefined,
  ) {}

  get service() {
    return this.method.parent;
  }
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }
  get values(): ContextValues {
    return (this.#values ??= createContextValues());
  }
  readonly timeoutMs = () => this.deadlineMs;
  get requestHeader(): Headers {
    if (!this.#requestHeader) {
      this.#requestHeader = new Headers();
      for (const [name, value] of Object.entries(this.rawHeader)) {
        if (typeof value === "string" && name[0] !== ":") this.#requestHeader.set(name, value);
      }
    }
    return this.#requestHeader;
  }
  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }
  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  /** Fires the signal, if anyone asked for it. */
  abort(reason: ConnectError): void {
    (this.#controller ??= new AbortController()).abort(reason);
  }

  /** Response headers, with trailers as Connect unary carries them (`trailer-` prefixed). */
  writeHeaders(into: Record<string, string>): void {
    this.#responseHeader?.forEach((value, name) => (into[name] = value));
    this.#responseTrailer?.forEach((value, name) => (into[`trailer-${name}`] = value));
  }
}

async function answer(spec: UnarySpec, req: Request, res: Response, body: Buffer): Promise<void> {
  const method = spec.method;
  const timeoutHeader = req.headers["connect-timeout-ms"];
  const parsedTimeout = typeof timeoutHeader === "string" ? Number.parseInt(timeoutHeader, 10) : Number.NaN;
  const timeoutMs = Number.isFinite(parsedTimeout) ? parsedTimeout : undefined;
  const ctx = new FastUnaryContext(method, req.url ?? "", req.headers, timeoutMs);
  // A caller that hangs up cancels the work it asked for.
  const onClose = () => {
    if (!res.writableFinished) ctx.abort(new ConnectError("the caller went away", Code.Canceled));
  };
  res.once("close", onClose);
  const timer =
    timeoutMs === undefined ? undefined : setTimeout(() => ctx.abort(new ConnectError(`the deadline of ${timeoutMs} ms passed`, Code.DeadlineExceeded)), timeoutMs);
  try {
    let input: MessageShape<DescMessage>;
    try {
      input = fromBinary(method.input, body);
    } catch (err) {
      throw new ConnectError(`cannot decode ${method.input.typeName}`, Code.InvalidArgument, undefined, undefined, err);
    }
    const output = await spec.impl(input, ctx);
    const bytes = toBinary(method.output, create(method.output, output as MessageInitShape<typeof method.output>));
    const headers: Record<string, string> = { "content-type": UNARY_PROTO, "content-length": String(bytes.byteLength) };
    ctx.writeHeaders(headers);
    res.writeHead(200, headers);
    res.end(bytes);
  } catch (err) {
    writeError(res, ConnectError.from(err));
  } finally {
    if (timer) clearTimeout(timer);
    res.off("close", onClose);
  }
}

function writeError(res: Response, error: ConnectError): void {
  if (res.headersSent || res.writableEnded) return;
  const body = errorToJsonBytes(error, {});
  res.writeHead(codeToHttpStatus(error.code), { "content-type": "application/json", "content-length": String(body.byteLength) });
  res.end(body);
}
