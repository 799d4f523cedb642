import { Code, type ConnectError } from "@connectrpc/connect";
import { codeForUpstreamStatus, meshError, Reason } from "@llmmesh/common";
import type { UpstreamCall } from "../provider.js";
import type { UpstreamResponse } from "../../upstream-client.js";
import { retryAfterMs } from "../../retry-after.js";
import { isObject } from "@llmmesh/openai-wire";

/** Longest upstream message passed on; longer ones are cut. */
const MAX_MESSAGE_CHARS = 1_000;

/** What OpenAI-style error bodies say, as far as they say it. */
interface UpstreamErrorInfo {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
}

/**
 * The mesh error for a non-2xx answer: the code keeps the HTTP status's
 * meaning, the message is the upstream's own (scrubbed of our secrets), and
 * the detail carries status, retry-after and the upstream's type and code.
 */
export function httpError(call: UpstreamCall, response: Pick<UpstreamResponse, "status" | "headers">, text: string): ConnectError {
  const info = errorInfo(parseJson(text));
  const retryAfter = retryAfterMs(response.headers);
  const message = info.message ?? `provider "${call.provider.name}" answered HTTP ${response.status}`;
  return meshError(codeForUpstreamStatus(response.status), scrub(message, call.provider.secrets), {
    reason: Reason.UpstreamError,
    upstreamStatus: response.status,
    retryAfterMs: retryAfter === undefined ? 0n : BigInt(retryAfter),
    provider: call.provider.name,
    upstreamType: info.type ?? "",
    upstreamCode: info.code ?? "",
    param: info.param ?? "",
  });
}

/**
 * The mesh error for an `error` object inside a stream that began with 200:
 * the upstream failed mid-answer, so nothing can be retried invisibly.
 */
export function streamError(call: UpstreamCall, status: number, payload: unknown): ConnectError {
  const info = errorInfo(payload);
  const message = info.message ?? `provider "${call.provider.name}" failed mid-stream`;
  return meshError(Code.Internal, scrub(message, call.provider.secrets), {
    reason: Reason.UpstreamError,
    upstreamStatus: status,
    provider: call.provider.name,
    upstreamType: info.type ?? "",
    upstreamCode: info.code ?? "",
  });
}

/** Whether a parsed JSON body is an error report (`{"error": ...}`) rather than an answer. */
export function isErrorPayload(json: unknown): boolean {
  return isObject(json) && json.error !== undefined && json.error !== null;
}

/** Reads `{"error": {message, type, code, param}}`, `{"error": "text"}` or `{"message": "text"}`. */
function errorInfo(json: unknown): UpstreamErrorInfo {
  if (!isObject(json)) return {};
  const error = json.error;
  if (typeof error === "string") return { message: error };
  const source = isObject(error) ? error : json;
  return {
    message: text(source.message),
    type: text(source.type),
    code: text(source.code),
    param: text(source.param),
  };
}

function text(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

/** Cuts a message down and removes any of our secrets an upstream may have echoed. */
function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) out = out.split(secret).join("***");
  return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}…` : out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

