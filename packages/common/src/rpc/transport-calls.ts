import {
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { create, isMessage, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { abortError, callSignal } from "./call-signal.js";
import { chainStream, chainUnary } from "./interceptor-chain.js";
import { normalized } from "./request-messages.js";
import { rpcPath } from "./unary-path.js";
import { mapMessages } from "../stream-iterators.js";

/** How one of the mesh's transports sends a call, once the common plumbing is done. */
export interface CallSenders {
  /** Base of request URLs (for interceptors and logs). */
  baseUrl: string;
  interceptors?: readonly Interceptor[];
  /** Deadline for calls that set none. */
  defaultTimeoutMs?: number;
  unary?: (req: UnaryRequest, deadlineMs: number | undefined) => Promise<UnaryResponse>;
  stream?: (req: StreamRequest, deadlineMs: number | undefined) => Promise<StreamResponse>;
}

/**
 * A Transport made from senders: builds each request, runs interceptors,
 * applies the deadline and the caller's signal, and turns failures into
 * ConnectErrors (Canceled or DeadlineExceeded when the signal fired). Unlike
 * Connect's runUnaryCall/runStreamingCall it makes no abort controller or
 * DOMException for calls that need none: that was a large share of an
 * internal hop's CPU.
 */
export function transportFrom(senders: CallSenders): Pick<Transport, "unary"> & Pick<Transport, "stream"> {
  const interceptors = senders.interceptors ?? [];
  const request = <R extends UnaryRequest | StreamRequest>(
    stream: R["stream"],
    method: R["method"],
    signal: AbortSignal,
    header: ConstructorParameters<typeof Headers>[0] | undefined,
    contextValues: ContextValues | undefined,
    message: R["message"],
  ) =>
    ({
      stream,
      service: method.parent,
      method,
      requestMethod: "POST",
      url: senders.baseUrl + rpcPath(method),
      header: new Headers(header),
      contextValues: contextValues ?? createContextValues(),
      message,
      signal,
    }) as R;

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const send = senders.unary;
      if (!send) throw new ConnectError(`${method.name}: unary calls are not carried here`);
      const deadline = timeoutMs ?? senders.defaultTimeoutMs;
      const cancellation = callSignal(signal, deadline, "unary");
      const message = isMessage(input, method.input) ? input : create(method.input, input);
      try {
        const req = request<UnaryRequest>(false, method as unknown as UnaryRequest["method"], cancellation.signal, header, contextValues, message as MessageShape<DescMessage>);
        return (await chainUnary(interceptors, (r) => send(r, deadline))(req)) as never;
      } catch (err) {
        throw cancellation.signal.aborted ? abortError(cancellation.signal) : ConnectError.from(err);
      } finally {
        cancellation.done();
      }
    },

    async stream(method, signal, timeoutMs, header, input, contextValues) {
      const send = senders.stream;
      if (!send) throw new ConnectError(`${method.name}: streaming calls are not carried here`);
      const deadline = timeoutMs ?? senders.defaultTimeoutMs;
      const cancellation = callSignal(signal, deadline, "stream");
      let response: StreamResponse;
      try {
        const req = request<StreamRequest>(true, method as unknown as StreamRequest["method"], cancellation.signal, header, contextValues, normalized(method.input, input) as AsyncIterable<MessageShape<DescMessage>>);
        response = await chainStream(interceptors, (r) => send(r, deadline))(req);
      } catch (err) {
        cancellation.done();
        throw cancellation.signal.aborted ? abortError(cancellation.signal) : ConnectError.from(err);
      }
      // Only a deadline holds anything (a timer) until the stream ends; otherwise the messages pass untouched.
      if (!cancellation.holdsTimer) return response as never;
      return withMessages(response, mapMessages(response.message[Symbol.asyncIterator](), { finish: cancellation.done })) as never;
    },
  };
}

/**
 * `response` with other messages. Its header and trailer are read through it
 * when asked for, not copied: a transport may make them only on demand, and
 * fills the trailer in when the stream ends.
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
