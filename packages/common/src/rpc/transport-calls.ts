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
import { abortError, signalOrNever } from "./call-signal.js";
import { chainStream, chainUnary } from "./interceptor-chain.js";
import { normalized } from "./request-messages.js";
import { rpcPath } from "./unary-path.js";

/** How one of the mesh's transports sends a call, once the common plumbing is done. */
export interface CallSenders {
  /** Base of request URLs (for interceptors and logs). */
  baseUrl: string;
  interceptors?: readonly Interceptor[];
  /** Deadline for calls that set none. */
  defaultTimeoutMs?: number;
  /**
   * Sends a unary call and keeps its deadline itself, as `stream` does (see
   * there): `req.signal` is the caller's alone. Over the multiplexed
   * connection that is one timer, or none when the caller's signal is marked
   * to fire in time (see markDeadline); a sender that needs a signal which
   * fires at the deadline makes one with callSignal.
   */
  unary?: (req: UnaryRequest, deadlineMs: number | undefined) => Promise<UnaryResponse>;
  /**
   * Sends a streaming call and keeps its deadline itself: the call fails with
   * DeadlineExceeded once `deadlineMs` passes, while it waits for headers or
   * while its messages are read. `req.signal` is the caller's alone. A
   * stream lasts long and a controller per stream and hop (its signal, the
   * listener on the caller's, the wrapper that releases them) was a large
   * share of what a held stream keeps; a sender needs only a timer.
   */
  stream?: (req: StreamRequest, deadlineMs: number | undefined) => Promise<StreamResponse>;
}

/**
 * A Transport made from senders: builds each request, runs interceptors,
 * passes the caller's signal and the deadline to the senders (which keep
 * it), and turns failures into ConnectErrors (Canceled or DeadlineExceeded
 * when the caller's signal fired). Unlike
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
      const callerSignal = signalOrNever(signal);
      const message = isMessage(input, method.input) ? input : create(method.input, input);
      try {
        const req = request<UnaryRequest>(false, method as unknown as UnaryRequest["method"], callerSignal, header, contextValues, message as MessageShape<DescMessage>);
        return (await chainUnary(interceptors, (r) => send(r, deadline))(req)) as never;
      } catch (err) {
        throw callerSignal.aborted ? abortError(callerSignal) : ConnectError.from(err);
      }
    },

    async stream(method, signal, timeoutMs, header, input, contextValues) {
      const send = senders.stream;
      if (!send) throw new ConnectError(`${method.name}: streaming calls are not carried here`);
      const deadline = timeoutMs ?? senders.defaultTimeoutMs;
      const callerSignal = signalOrNever(signal);
      try {
        const req = request<StreamRequest>(true, method as unknown as StreamRequest["method"], callerSignal, header, contextValues, normalized(method.input, input) as AsyncIterable<MessageShape<DescMessage>>);
        return (await chainStream(interceptors, (r) => send(r, deadline))(req)) as never;
      } catch (err) {
        throw callerSignal.aborted ? abortError(callerSignal) : ConnectError.from(err);
      }
    },
  };
}
