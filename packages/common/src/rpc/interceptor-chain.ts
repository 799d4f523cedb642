import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";

type UnaryNext = (req: UnaryRequest) => Promise<UnaryResponse>;
type StreamNext = (req: StreamRequest) => Promise<StreamResponse>;

/** Wraps a unary call in interceptors, the first interceptor outermost (as Connect's transports do). */
export function chainUnary(interceptors: readonly Interceptor[], call: UnaryNext): UnaryNext {
  return interceptors.reduceRight<UnaryNext>((next, interceptor) => interceptor(next as never) as never, call);
}

/** Wraps a streaming call in interceptors, the first interceptor outermost. */
export function chainStream(interceptors: readonly Interceptor[], call: StreamNext): StreamNext {
  return interceptors.reduceRight<StreamNext>((next, interceptor) => interceptor(next as never) as never, call);
}
