import {
  Code,
  ConnectError,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { create, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { abortError, callSignal, cannotAbort } from "../rpc/call-signal.js";
import { LightHandlerContext, type ContextSource } from "../rpc/handler-context.js";
import { rpcPath } from "../rpc/unary-path.js";
import { firstMessage } from "../rpc/request-messages.js";
import { transportFrom } from "../rpc/transport-calls.js";
import { mapMessages } from "../stream-iterators.js";

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

/**
 * `router`, recording as implementation specs into `specs` all that is
 * registered on it: one registration feeds the general handler and the
 * fast paths alike (health's state included).
 */
export function recordingRouter(router: ConnectRouter, specs: ServiceImplSpec[]): ConnectRouter {
  const collector = new SpecCollector();
  const recording: ConnectRouter = {
    handlers: router.handlers,
    service(service, implementation, options) {
      router.service(service, implementation, options);
      collector.service(service, implementation);
      specs.push(...collector.specs.splice(0));
      return recording;
    },
    rpc(method, impl, options) {
      router.rpc(method, impl, options);
      collector.rpc(method, impl);
      specs.push(...collector.specs.splice(0));
      return recording;
    },
  };
  return recording;
}

/** The implementation specs `register` would put on a router. */
export function collectImplementations(register: (router: ConnectRouter) => void): ServiceImplSpec[] {
  const collector = new SpecCollector();
  register(collector);
  return collector.specs;
}

/** A direct call's signal and headers, as its callee's context reads them. */
class DirectSource implements ContextSource {
  constructor(
    readonly signal: AbortSignal,
    private readonly header: Headers,
  ) {}

  requestHeaders(): Headers {
    return this.header;
  }
}

const PROTOCOL = "in-process";
const BASE_URL = "in-process://mesh";

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
  const lookup = (method: DescMethod): MethodImplSpec => {
    const spec = specs.get(rpcPath(method));
    if (!spec) throw new ConnectError(`${method.parent.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);
    return spec;
  };
  const contextFor = (req: UnaryRequest | StreamRequest, signal: AbortSignal, timeoutMs: number | undefined) =>
    new LightHandlerContext(req.method, PROTOCOL, req.url, new DirectSource(signal, req.header), timeoutMs);

  const callUnary = async (req: UnaryRequest, timeoutMs: number | undefined): Promise<UnaryResponse> => {
    const spec = lookup(req.method);
    if (spec.kind !== "unary") throw new ConnectError(`${req.method.name} is not unary`, Code.Internal);
    // The callee learns of the deadline through its signal; a caller's signal marked to fire in time needs no controller.
    const cancellation = callSignal(req.signal, timeoutMs, "unary");
    const ctx = contextFor(req, cancellation.signal, timeoutMs);
    try {
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
    } catch (err) {
      throw cancellation.signal.aborted ? abortError(cancellation.signal) : err;
    } finally {
      cancellation.done();
    }
  };

  const callStream = async (req: StreamRequest, timeoutMs: number | undefined): Promise<StreamResponse> => {
    const spec = lookup(req.method);
    if (spec.kind !== "server_streaming") throw new ConnectError(`${req.method.name}: only server streaming runs in process`, Code.Unimplemented);
    const method = req.method;
    const request = await firstMessage(req.message);
    // The callee learns of the deadline through its signal, as over the network; only a deadline costs a controller.
    const cancellation = callSignal(req.signal, timeoutMs, "stream");
    const signal = cancellation.signal;
    const ctx = contextFor(req, signal, timeoutMs);
    let outputs: AsyncIterator<unknown>;
    try {
      outputs = spec.impl(request, ctx)[Symbol.asyncIterator]();
    } catch (err) {
      cancellation.done();
      throw err;
    }
    // A caller that aborts ends the callee's generator too.
    const endCallee = () => void outputs.return?.().catch(() => {});
    const listening = !cannotAbort(signal);
    if (listening) signal.addEventListener("abort", endCallee, { once: true });
    const messages = mapMessages(outputs, {
      map: (output) => create(method.output, output as MessageInitShape<typeof method.output>),
      error: (err) => (signal.aborted ? abortError(signal) : ConnectError.from(err)),
      finish(complete) {
        cancellation.done();
        if (listening) signal.removeEventListener("abort", endCallee);
        // Left early (the caller stopped iterating): the callee stops too, as over the network.
        if (!complete) endCallee();
        // A cancelled call ends in an error, as it does over the network, never as a complete stream.
        else if (signal.aborted) throw abortError(signal);
      },
    });
    return { stream: true, service: method.parent, method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message: messages };
  };

  return transportFrom({ baseUrl: BASE_URL, interceptors: options.interceptors, unary: callUnary, stream: callStream });
}
