import { ApiError, ErrorType } from "./api-error.js";
import type { GatewayRequest } from "./http.js";
import { findJsonStructureProblem, type JsonStructureProblem } from "./json-structure.js";

/**
 * After refusing an oversized body we keep reading and discarding up to this
 * much more, so an honest client that already sent it still gets to read our
 * 413 (closing with unread data makes the kernel send a reset, and the
 * client may see that instead of the answer). Past it we stop paying.
 */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** 413 for a body over the configured limit. */
export class RequestTooLargeError extends ApiError {
  constructor(
    limit: number,
    /** True when the rest of the body is not worth draining: close the HTTP/1 connection after answering. */
    readonly closeConnection: boolean,
  ) {
    super(413, `Request body too large: limit is ${limit} bytes`, ErrorType.InvalidRequest, "request_too_large");
  }
}

/** The client went away while we were reading its body; nothing will be written. */
export function clientClosedError(): ApiError {
  return new ApiError(499, "Client closed the request", ErrorType.InvalidRequest, "request_canceled");
}

/**
 * Reads the whole request body, refusing more than `limit` bytes: at once
 * when Content-Length says so, otherwise as soon as the running total passes
 * it (so a chunked upload cannot make us buffer more than the limit). Rejects
 * with a 499 ApiError when `signal` (the client's disconnect) fires first.
 */
export function readBody(req: GatewayRequest, limit: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    stopUpload(req);
    return Promise.reject(new RequestTooLargeError(limit, declared > limit + DRAIN_LIMIT_BYTES));
  }
  if (signal.aborted) return Promise.reject(clientClosedError());

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        stopUpload(req);
        reject(new RequestTooLargeError(limit, false));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      cleanup();
      reject(clientClosedError());
    };
    const cleanup = () => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("aborted", onGone);
      req.removeListener("error", onGone);
      signal.removeEventListener("abort", onGone);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("aborted", onGone);
    req.on("error", onGone);
    signal.addEventListener("abort", onGone);
  });
}

/**
 * Stops receiving a refused body, in the way of the request's HTTP version.
 * HTTP/2 needs nothing from us: once the answer is complete, Node closes the
 * stream (RST_STREAM NO_ERROR, RFC 9113 §8.1), which ends the upload and
 * leaves the session serving. Draining and then destroying, as HTTP/1 does,
 * would instead leave the stream half open, the client stalled on a
 * flow-control window nobody reopens.
 */
function stopUpload(req: GatewayRequest): void {
  if (req.httpVersionMajor >= 2) return;
  discardRest(req);
}

/** HTTP/1: throws away what is left of a refused body, up to DRAIN_LIMIT_BYTES; then drops the connection. */
function discardRest(req: GatewayRequest): void {
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DRAIN_LIMIT_BYTES) {
      req.removeListener("data", onData);
      req.destroy();
    }
  };
  req.on("data", onData);
  // A reset while discarding is expected and harmless.
  req.on("error", () => {});
  req.resume();
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True for media types that announce JSON (or none at all). */
function looksLikeJson(contentType: string | undefined): boolean {
  const mediaType = ((contentType ?? "").split(";", 1)[0] ?? "").trim().toLowerCase();
  return mediaType === "" || mediaType === "application/json" || mediaType.endsWith("+json");
}

/**
 * Deepest nesting accepted in a request body. Real requests stay far below
 * (OpenAI's structured-output schemas allow 10 levels, a few JSON levels
 * each); far above, recursive code downstream risks running out of stack.
 */
const MAX_JSON_DEPTH = 128;

/** Longest path or key echoed in a structure error (keys can be as long as the body). */
const MAX_ECHOED_PATH = 200;

/** A JSON object as parsed from a request body. */
export type JsonObject = Record<string, unknown>;

/**
 * Decodes a request body as one JSON object, with 400s a client can act on:
 * bad UTF-8, empty body, a duplicate key or nesting deeper than
 * MAX_JSON_DEPTH (checked before parsing, naming the field), the parser's
 * own message (it names the position), or a top-level value that is not an
 * object. The Content-Type is not enforced (`curl -d` and `fetch` with a
 * string body both send non-JSON types for JSON bodies); it only adds a hint
 * when parsing fails.
 */
export function parseJsonObject(body: Buffer, contentType: string | undefined): JsonObject {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw ApiError.invalidRequest("The request body is not valid UTF-8", "invalid_encoding");
  }
  if (text.trim() === "") throw ApiError.invalidRequest("The request body is empty: expected a JSON object", "invalid_json");
  const problem = findJsonStructureProblem(text, MAX_JSON_DEPTH);
  if (problem) throw structureError(problem);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const hint = looksLikeJson(contentType) ? "" : ` (the Content-Type was ${JSON.stringify(contentType)}; send application/json)`;
    throw ApiError.invalidRequest(`We could not parse the JSON body of your request${hint}: ${reason}`, "invalid_json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw ApiError.invalidRequest("The request body must be a JSON object", "invalid_type");
  }
  return value as JsonObject;
}

function structureError(problem: JsonStructureProblem): ApiError {
  const param = problem.path === "" ? null : shorten(problem.path);
  const where = param === null ? "" : ` (at '${param}')`;
  if (problem.kind === "duplicate-key") {
    return ApiError.invalidRequest(
      `The JSON body has the key ${JSON.stringify(shorten(problem.key))} twice in the same object${where}: send each key once`,
      "duplicate_key",
      param,
    );
  }
  return ApiError.invalidRequest(`The JSON body is nested more than ${problem.maxDepth} levels deep${where}`, "json_too_deep", param);
}

function shorten(text: string): string {
  return text.length > MAX_ECHOED_PATH ? `${text.slice(0, MAX_ECHOED_PATH)}...` : text;
}
