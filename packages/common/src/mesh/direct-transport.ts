import {
  Code,
  ConnectError,
  createContextValues,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  create,
  isMessage,
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { abortError, callSignal, cannotAbort } from "../rpc/call-signal.js";
import { LightHandlerContext } from "../rpc/handler-context.js";
import { chainStream, chainUnary } from "../rpc/interceptor-chain.js";
import { rpcPath } from "../rpc/unary-path.js";
import { firstMessage, normalized } from "../rpc/request-messages.js";

/**
 * Captures what a component registers on a router as implementation specs,
 * so the same `register` function feeds a network server and a direct call.
 */
class SpecCollector implements ConnectRouter {
  readonly handlers = [];
  readonly specs: ServiceImplSpec[] = [];

  service<T extends DescService>(service: T, implementation: Parameters<ConnectRouter["service"]>[1]): this {
    this.specs.push(createServiceImplSpec(service, implementation));
    return this;
  }

  rpc<M extends DescMethod>(method: M, impl: Parameters<typeof createMethodImplSpec<M>>[1]): this {
    this.specs.push({ service: method.parent, methods: { [method.localName]: createMethodImplSpec(method, impl) } });
    return this;
  }
}

/** The implementation specs `register` would put on a router. */
export function collectImplementations(register: (router: ConnectRouter) => void): ServiceImplSpec[] {
  const collector = new SpecCollector();
  register(collector);
  return collector.specs;
}

const PROTOCOL = "in-process";
const BASE_URL = "in-process://mesh";
type HeaderInit = ConstructorParameters<typeof Headers>[0];

/**
 * A transport that calls service implementations in this process directly:
 * no serialisation, no copies, no HTTP. It still runs client interceptors,
 * deadlines and cancellation (the callee's `ctx.signal` fires when the caller
 * aborts or the deadline passes), and normalises outputs into messages, so
 * callers cannot tell it from a network transport — except that messages are
 * shared by reference: neither side may mutate a message it sent or received.
 * Signals and headers are made only when a call needs them.
 */
export function createDirectTransport(implementations: readonly ServiceImplSpec[], options: { interceptors?: Interceptor[] } = {}): Transport {
  const specs = new Map<string, MethodImplSpec>();
  for (const implementation of implementations) {
    for (const spec of Object.values(implementation.methods)) specs.set(rpcPath(spec.method), spec);
  }
  const interceptors = options.interceptors ?? [];
  const lookup = (method: DescMethod): MethodImplSpec => {
    const spec = specs.get(rpcPath(method));
    if (!spec) throw new ConnectError(`${method.parent.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);
    return spec;
  };
  const contextFor = (req: UnaryRequest | StreamRequest, timeoutMs: number | undefined) =>
    new LightHandlerContext(req.method, PROTOCOL, req.url, () => req.signal, () => req.header, timeoutMs);

  const callUnary = async (req: UnaryRequest, timeoutMs: number | undefined): Promise<UnaryResponse> => {
    const spec = lookup(req.method);
    if (spec.kind !== "unary") throw new ConnectError(`${req.method.name} is not unary`, Code.Internal);
    const ctx = contextFor(req, timeoutMs);
    const output = await spec.impl(req.message, ctx);
    const method = req.method;
    return {
      stream: false,
      service: method.parent,
      method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: create(method.output, output as MessageInitShape<typeof method.output>),
    };
  };

  const callStream = async (req: StreamRequest, timeoutMs: number | undefined): Promise<StreamResponse> => {
    const spec = lookup(req.method);
    if (spec.kind !== "server_streaming") throw new ConnectError(`${req.method.name}: only server streaming runs in process`, Code.Unimplemented);
    const method = req.method;
    const request = await firstMessage(req.message);
    const ctx = contextFor(req, timeoutMs);
    const outputs = spec.impl(request, ctx)[Symbol.asyncIterator]();
    // A caller that aborts ends the callee's generator too.
    const endCallee = () => void outputs.return?.().catch(() => {});
    const listening = !cannotAbort(req.signal);
    if (listening) req.signal.addEventListener("abort", endCallee, { once: true });
    const messages = (async function* () {
      let complete = false;
      try {
        for (;;) {
          const next = await outputs.next();
          if (next.done) break;
          yield create(method.output, next.value as MessageInitShape<typeof method.output>);
        }
        complete = true;
      } catch (err) {
        throw req.signal.aborted ? abortError(req.signal) : ConnectError.from(err);
      } finally {
        if (listening) req.signal.removeEventListener("abort", endCallee);
        // Left early (the caller stopped iterating): the callee stops too, as over the network.
        if (!complete) endCallee();
      }
      // A cancelled call ends in an error, as it does over the network, never as a complete stream.
      if (req.signal.aborted) throw abortError(req.signal);
    })();
    return { stream: true, service: method.parent, method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message: messages };
  };

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeaderInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const cancellation = callSignal(signal, timeoutMs);
      const request: UnaryRequest<I, O> = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: BASE_URL + rpcPath(method),
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: isMessage(input, method.input) ? input : create(method.input, input),
        signal: cancellation.signal,
      };
      try {
        const chain = chainUnary(interceptors, (req) => callUnary(req, timeoutMs));
        return (await chain(request as unknown as UnaryRequest)) as unknown as UnaryResponse<I, O>;
      } catch (err) {
        throw cancellation.signal.aborted ? abortError(cancellation.signal) : ConnectError.from(err);
      } finally {
        cancellation.done();
      }
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeaderInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const cancellation = callSignal(signal, timeoutMs);
      const request: StreamRequest<I, O> = {
        stream: true,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: BASE_URL + rpcPath(method),
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: normalized(method.input, input),
        signal: cancellation.signal,
      };
      let response: StreamResponse;
      try {
        const chain = chainStream(interceptors, (req) => callStream(req, timeoutMs));
        response = await chain(request as unknown as StreamRequest);
      } catch (err) {
        cancellation.done();
        throw cancellation.signal.aborted ? abortError(cancellation.signal) : ConnectError.from(err);
      }
      const messages = response.message;
      return {
        ...(response as unknown as StreamResponse<I, O>),
        message: (async function* () {
          try {
            yield* messages as AsyncIterable<MessageShape<O>>;
          } finally {
            cancellation.done();
          }
        })(),
      };
    },
  };
}
