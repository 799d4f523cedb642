import { anthropicErrorToJson, REQUEST_ID_HEADER } from "@llmmesh/anthropic-wire";
import { formatSse } from "@llmmesh/openai-wire";
import type { ApiError } from "./api-error.js";

/**
 * How one client API frames what the gateway writes: error bodies, stream
 * events and the name of its request-id header. Statuses and the other
 * headers are the same for every API (one error mapping); only these differ.
 */
export interface Dialect {
  /** The JSON body of an error response, also sent as a stream's final error event. */
  errorBody(error: ApiError, requestId: string): Record<string, unknown>;
  /** One SSE event carrying `value`. */
  formatEvent(value: Record<string, unknown>): string;
  /** Written after a stream's last event ("" for none). */
  readonly streamEnd: string;
  /** The API's own response header for the request id, sent besides `x-request-id` (undefined: that one is the API's). */
  readonly requestIdHeader: string | undefined;
}

/** OpenAI's API: `{"error":{...}}` bodies, bare `data:` events, then `data: [DONE]`. */
export const OPENAI_DIALECT: Dialect = {
  errorBody: (error) => ({ ...error.toEnvelope() }),
  formatEvent: (value) => formatSse(JSON.stringify(value)),
  streamEnd: formatSse("[DONE]"),
  requestIdHeader: undefined,
};

/** Anthropic's Messages API: `{"type":"error",...}` bodies, every event named by its `type`, no end marker. */
export const ANTHROPIC_DIALECT: Dialect = {
  errorBody: (error, requestId) => anthropicErrorToJson(error.status, error.message, requestId),
  formatEvent: (value) => formatSse(JSON.stringify(value), String(value.type)),
  streamEnd: "",
  requestIdHeader: REQUEST_ID_HEADER,
};

const ANTHROPIC_PATH = "/v1/messages";

/** The dialect of a path nothing routes (404, 405): Anthropic's under /v1/messages, OpenAI's elsewhere. */
export function dialectForPath(path: string): Dialect {
  return path === ANTHROPIC_PATH || path.startsWith(`${ANTHROPIC_PATH}/`) ? ANTHROPIC_DIALECT : OPENAI_DIALECT;
}
