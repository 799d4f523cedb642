import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
  type Transport,
} from "@connectrpc/connect";
import { createMethodUrl, getAbortSignalReason, runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { create, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";

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

/**
 * A transport that calls service implementations in this process directly:
 * no serialisation, no copies, no HTTP. It still runs client interceptors,
 * deadlines and cancellation (the callee's `ctx.signal` fires when the caller
 * aborts or the deadline passes), and normalises outputs into messages, so
 * callers cannot tell it from a network transport — except that messages are
 * shared by reference: neither side may mutate a message it sent or received.
 */
export function createDirectTransport(implementations: readonly ServiceImplSpec[], options: { interceptors?: Interceptor[] } = {}): Transport {
  const specs = new Map<string, MethodImplSpec>();
  for (const implementation of implementations) {
    for (const spec of Object.values(implementation.methods)) specs.set(spec.method.parent.typeName + "/" + spec.method.name, spec);
  }
  const interceptors = options.interceptors ?? [];
  const lookup = (method: DescMethod): MethodImplSpec => {
    const spec = specs.get(method.parent.typeName + "/" + method.name);
    if (!spec) throw new ConnectError(`${method.parent.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);
    return spec;
  };
  const contextFor = (method: DescMethod, url: string, timeoutMs: number | undefined, signal: AbortSignal, header: Headers, contextValues: ReturnType<typeof createContextValues>) =>
    createHandlerContext({
      service: method.parent,
      method,
      protocolName: PROTOCOL,
      requestMethod: "POST",
      url,
      timeoutMs,
      requestSignal: signal,
      requestHeader: header,
      contextValues,
    });

  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      return runUnaryCall({
        interceptors,
        signal,
        timeoutMs,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: createMethodUrl(BASE_URL, method),
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const spec = lookup(method);
          if (spec.kind !== "unary") throw new ConnectError(`${method.name} is not unary`, Code.Internal);
          const ctx = contextFor(method, req.url, timeoutMs, req.signal, req.header, req.contextValues);
          try {
            const output = await spec.impl(req.message as MessageShape<DescMessage>, ctx);
            return {
              stream: false as const,
              service: method.parent,
              method,
              header: ctx.responseHeader,
              trailer: ctx.responseTrailer,
              message: create(method.output, output as MessageInitShape<typeof method.output>),
            };
          } catch (err) {
            throw ConnectError.from(err);
          }
        },
      });
    },

    stream(method, signal, timeoutMs, header, input, contextValues) {
      return runStreamingCall({
        interceptors,
        signal,
        timeoutMs,
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: createMethodUrl(BASE_URL, method),
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const spec = lookup(method);
          if (spec.kind !== "server_streaming") throw new ConnectError(`${method.name}: only server streaming runs in process`, Code.Unimplemented);
          const request = await firstMessage(req.message);
          const ctx = contextFor(method, req.url, timeoutMs, req.signal, req.header, req.contextValues);
          const outputs = spec.impl(request as MessageShape<DescMessage>, ctx)[Symbol.asyncIterator]();
          // A caller that stops listening aborts the call: end the callee's generator too.
          req.signal.addEventListener("abort", () => void outputs.return?.().catch(() => {}), { once: true });
          const messages = (async function* () {
            try {
              for (;;) {
                const next = await outputs.next();
                if (next.done) break;
                yield create(method.output, next.value as MessageInitShape<typeof method.output>);
              }
            } catch (err) {
              throw ConnectError.from(req.signal.aborted ? getAbortSignalReason(req.signal) : err);
            }
            // A cancelled call ends in an error, as it does over the network, never as a complete stream.
            if (req.signal.aborted) throw ConnectError.from(getAbortSignalReason(req.signal));
          })();
          return { stream: true as const, service: method.parent, method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message: messages };
        },
      });
    },
  };
}

async function firstMessage<T>(messages: AsyncIterable<T>): Promise<T> {
  for await (const message of messages) return message;
  throw new ConnectError("missing request message", Code.InvalidArgument);
}
