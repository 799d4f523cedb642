import { ConnectError, Code, type MethodImplSpec, type ServiceImplSpec } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HttpHandler } from "../server.js";
import { UNARY_PROTO } from "./unary-path.js";
import { routesOfKind, ServerCall } from "./server-call.js";

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
  const routes = routesOfKind(implementations, "unary");
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

async function answer(spec: UnarySpec, req: Request, res: Response, body: Buffer): Promise<void> {
  const method = spec.method;
  const call = ServerCall.onResponse(method, req, res);
  const ctx = call.ctx;
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
    ctx.responseHeaderIfAny?.forEach((value, name) => (headers[name] = value));
    ctx.responseTrailerIfAny?.forEach((value, name) => (headers[`trailer-${name}`] = value));
    call.markAnswered();
    res.writeHead(200, headers);
    res.end(bytes);
  } catch (err) {
    call.markAnswered();
    writeError(res, ConnectError.from(err));
  } finally {
    call.finish();
  }
}

function writeError(res: Response, error: ConnectError): void {
  if (res.headersSent || res.writableEnded) return;
  const body = errorToJsonBytes(error, {});
  res.writeHead(codeToHttpStatus(error.code), { "content-type": "application/json", "content-length": String(body.byteLength) });
  res.end(body);
}
