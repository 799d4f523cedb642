import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

/** A whole HTTP response: status, headers and every byte of the body. */
export interface BufferedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The response declared, or sent, more bytes than the caller accepts. */
export class ResponseTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`response larger than ${limit} bytes`);
    this.name = "ResponseTooLargeError";
  }
}

/**
 * Sends one request and collects its whole response into one buffer.
 *
 * What undici's `request()` would do, minus what a caller that wants the
 * whole body at once never uses: a Readable for the body, the consumer that
 * drains it into an ArrayBuffer, and an AsyncResource per call. Measured at
 * about a quarter less client CPU per call on a 1 KB exchange, which counts
 * on the mesh's hot path (one such call per hop and per upstream answer).
 *
 * `signal` cancels the request as `request()`'s would: the returned promise
 * rejects with the signal's reason. A body over `maxBytes` (declared or
 * sent) ends the request with a `ResponseTooLargeError`.
 */
export function requestBuffered(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<BufferedResponse> {
  return new Promise<BufferedResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Before the request reaches a socket there is nothing to abort yet: it is
    // aborted the moment it does (as undici's own request() does).
    const onAbort = () => controller?.abort(signal?.reason);
    const settle = () => {
      settled = true;
      signal?.removeEventListener("abort", onAbort);
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        // Started again after a failed attempt on another socket: only the last attempt's bytes count.
        chunks = [];
        size = 0;
        if (signal?.aborted) started.abort(signal.reason);
      },
      onResponseStart(started, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
        if (Number(responseHeaders["content-length"]) > maxBytes) started.abort(new ResponseTooLargeError(maxBytes));
      },
      onResponseData(started, chunk) {
        size += chunk.length;
        if (size > maxBytes) started.abort(new ResponseTooLargeError(maxBytes));
        else chunks.push(chunk);
      },
      onResponseEnd() {
        if (settled) return;
        settle();
        resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
      },
      onResponseError(_controller, error) {
        if (settled) return;
        settle();
        reject(signal?.aborted ? signal.reason : error);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (err) {
      settle();
      reject(err);
    }
  });
}
