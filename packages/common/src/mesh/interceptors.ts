import { ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { mapMessages } from "../stream-iterators.js";

/**
 * A downstream service's error, ready to be thrown again by the service that
 * called it: same code, message and details, but none of the downstream
 * response's headers. Connect servers merge an error's metadata into their
 * own response, so a forwarded `content-length` or `content-type` would
 * corrupt it (HTTP/2 resets the stream).
 */
export function forwardableError(err: unknown): unknown {
  if (!(err instanceof ConnectError) || isEmpty(err.metadata)) return err;
  const forwarded = new ConnectError(err.rawMessage, err.code, undefined, undefined, err.cause);
  forwarded.details.push(...err.details);
  return forwarded;
}

function isEmpty(headers: Headers): boolean {
  for (const _ of headers.keys()) return false;
  return true;
}

/** Client interceptor: errors from downstream calls (unary or mid-stream) come out forwardable. */
export const forwardableErrors: Interceptor = (next) => async (request) => {
  try {
    const response = await next(request);
    if (!response.stream) return response;
    return withMessages(response, mapMessages(response.message[Symbol.asyncIterator](), { error: forwardableError }));
  } catch (err) {
    throw forwardableError(err);
  }
};

/**
 * `response` with other messages. Its header and trailer are read through
 * it, not copied (a spread would lose them): a transport may make them only
 * when read (getters), and fills the trailer in when the stream ends.
 */
function withMessages(response: StreamResponse, message: StreamResponse["message"]): StreamResponse {
  return {
    stream: true,
    service: response.service,
    method: response.method,
    get header() {
      return response.header;
    },
    get trailer() {
      return response.trailer;
    },
    message,
  };
}
