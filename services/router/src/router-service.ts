import { create } from "@bufbuild/protobuf";
import { Code, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { Header, lazyMessages, mapMessages, meshError, Reason, startingWith, type ConfigStore, type Logger } from "@llmmesh/common";
import {
  Operation,
  RouterServiceChatResponseSchema,
  RouterServiceChatStreamResponseSchema,
  RouterServiceCompleteResponseSchema,
  RouterServiceCompleteStreamResponseSchema,
  RouterServiceEmbedResponseSchema,
  RouterServiceListModelsResponseSchema,
  ServedSchema,
  type AdapterService,
  type PolicyService,
  type RouterService,
  type RouterServiceChatRequest,
  type RouterServiceChatResponse,
  type RouterServiceChatStreamRequest,
  type RouterServiceChatStreamResponse,
  type RouterServiceCompleteRequest,
  type RouterServiceCompleteResponse,
  type RouterServiceCompleteStreamRequest,
  type RouterServiceCompleteStreamResponse,
  type RouterServiceEmbedRequest,
  type RouterServiceEmbedResponse,
  type RouterServiceListModelsResponse,
  type Served,
  type Usage,
} from "@llmmesh/proto";
import { estimateChatTokens, estimateCompletionTokens, estimateEmbedTokens, type AdmissionRequest } from "./admission.js";
import { AdmissionLeases } from "./admission-leases.js";
import type { AttemptCallOptions } from "./attempts.js";
import { createModelListCache } from "./model-list.js";
import { createMissingAdapterReporter, openRoute, type AdapterClient, type Route, type RouteDeps } from "./route.js";
import { createLeaseReturner, createSettler, type Settlement } from "./settlement.js";
import { abortableSleep } from "./sleep.js";
import { createPlanCache, type PlannedTarget } from "./targets.js";

/** What the router needs; every dependency is passed in, so tests and the all-in-one mode can wire it freely. */
export interface RouterServiceDeps {
  config: ConfigStore;
  policy: Client<typeof PolicyService>;
  /** The client of the adapter deployable registered under a name, if one is reachable. */
  adapterFor: (adapterName: string) => Client<typeof AdapterService> | undefined;
  logger: Logger;
  /** Waits between retries; must reject when the signal aborts (tests inject one). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for backoff jitter (tests inject one). */
  random?: () => number;
  /** Reports finished requests to policy; default: one Settle per request. */
  settle?: (settlement: Settlement) => void;
  /** Admits requests, mostly on leases from policy; default: leases returned one call each. */
  admissions?: AdmissionLeases;
}

/**
 * The router: admits each request (at policy, or on a lease policy granted
 * for the caller's key), tries the model's targets in
 * order through their adapters with retries, backoff, fallback and one
 * deadline, settles the real usage at policy (without waiting for it) and
 * answers with where the request was served.
 *
 * A request uses the config snapshot current when it arrived, from start to
 * end; per-revision lookups are built once and cached.
 */
export function createRouterService(deps: RouterServiceDeps): ServiceImpl<typeof RouterService> {
  const settle = deps.settle ?? createSettler(deps.policy, deps.logger);
  const admissions =
    deps.admissions ??
    new AdmissionLeases({ policy: deps.policy, config: deps.config, logger: deps.logger, returnLease: createLeaseReturner(deps.policy, deps.logger) });
  const routeDeps: RouteDeps = {
    admit: (ctx, snapshot, request) => admissions.admit(ctx, snapshot, request),
    adapterFor: deps.adapterFor,
    logger: deps.logger,
    planFor: createPlanCache(),
    sleep: deps.sleep ?? abortableSleep,
    random: deps.random ?? Math.random,
    settle,
    reportMissingAdapter: createMissingAdapterReporter(deps.logger),
  };
  const modelsFor = createModelListCache();

  /** Admission → attempts → settlement for a unary call; returns the answer and where it was served. */
  async function serveUnary<T>(
    ctx: HandlerContext,
    admitted: AdmissionRequest,
    call: (client: AdapterClient, planned: PlannedTarget, options: AttemptCallOptions, route: Route) => Promise<UnaryAnswer<T>>,
  ): Promise<{ value: T; served: Served }> {
    const route = await openRoute(routeDeps, deps.config.current(), ctx, admitted);
    try {
      const result = await route.attempt((client, planned, options) => call(client, planned, options, route));
      const usage = result.ok ? result.value.usage : undefined;
      settle({ admission: route.admission, model: admitted.model, target: result.target?.target, usage, succeeded: result.ok });
      if (!result.ok) throw result.error;
      const served = markServed(ctx, result.target, result.attempts, result.value.upstreamMs, deps.logger, admitted.model);
      return { value: result.value.value, served };
    } finally {
      route.deadline.dispose();
    }
  }

  /**
   * Admission → attempts → settlement for a streamed call: `open` starts the
   * adapter's stream on one target, `wrap` turns each chunk into the
   * response message (the first one with `served`). Resolves once the first
   * chunk is there; past it, the messages flow through (see message-flow.ts in common).
   */
  async function serveStream<Chunk extends { usage?: Usage }, Message>(
    ctx: HandlerContext,
    admitted: AdmissionRequest,
    open: (client: AdapterClient, planned: PlannedTarget, signal: AbortSignal, route: Route) => AsyncIterable<{ chunk?: Chunk; upstreamMs?: number }>,
    wrap: (chunk: Chunk | undefined, served?: Served) => Message,
  ): Promise<AsyncIterator<Message>> {
    const route = await openRoute(routeDeps, deps.config.current(), ctx, admitted);
    let target: PlannedTarget | undefined;
    let usage: Usage | undefined;
    const finish = (succeeded: boolean) => {
      route.deadline.dispose();
      // Left mid-stream (the client went away, or the stream failed): cancel the
      // adapter call through its signal, whether or not its iterator can be stopped.
      if (!succeeded) route.deadline.cancel();
      settle({ admission: route.admission, model: admitted.model, target: target?.target, usage, succeeded });
    };
    try {
      const result = await route.attempt(firstChunkAttempt(open, route));
      target = result.target;
      if (!result.ok) throw result.error;
      route.deadline.disarm();
      const { iterator, first } = result.value;
      const served = markServed(ctx, result.target, result.attempts, first.upstreamMs ?? 0, deps.logger, admitted.model);
      usage = first.chunk?.usage;
      const rest = mapMessages(iterator, {
        map(next) {
          if (next.chunk?.usage) usage = next.chunk.usage;
          return wrap(next.chunk);
        },
        finish,
      });
      return startingWith(wrap(first.chunk, served), rest);
    } catch (err) {
      finish(false);
      throw err;
    }
  }

  return {
    async chat(request: RouterServiceChatRequest, ctx: HandlerContext): Promise<RouterServiceChatResponse> {
      const chat = required(request.chat, "chat");
      const admitted = { operation: Operation.CHAT, model: chat.model, estimatedTokens: estimateChatTokens(chat) };
      const { value, served } = await serveUnary(ctx, admitted, async (client, planned, options, route) => {
        const source = route.admission.chat ?? chat;
        const response = await client.chat({ target: planned.target, chat: { ...source, model: planned.target.model } }, options);
        return { value: response.chat, usage: response.chat?.usage, upstreamMs: response.upstreamMs };
      });
      return create(RouterServiceChatResponseSchema, { chat: value, served });
    },

    chatStream(request: RouterServiceChatStreamRequest, ctx: HandlerContext): AsyncIterableIterator<RouterServiceChatStreamResponse> {
      // Lazy, as a generator would be: a bad request fails the first read, not the call.
      return lazyMessages(() => {
        const chat = required(request.chat, "chat");
        const admitted = { operation: Operation.CHAT, model: chat.model, estimatedTokens: estimateChatTokens(chat) };
        return serveStream(
          ctx,
          admitted,
          (client, planned, signal, route) => {
            const source = route.admission.chat ?? chat;
            return client.chatStream({ target: planned.target, chat: { ...source, model: planned.target.model } }, { signal });
          },
          chatStreamMessage,
        );
      });
    },

    async complete(request: RouterServiceCompleteRequest, ctx: HandlerContext): Promise<RouterServiceCompleteResponse> {
      const completion = required(request.completion, "completion");
      const admitted = { operation: Operation.COMPLETE, model: completion.model, estimatedTokens: estimateCompletionTokens(completion) };
      const { value, served } = await serveUnary(ctx, admitted, async (client, planned, options) => {
        const response = await client.complete({ target: planned.target, completion: { ...completion, model: planned.target.model } }, options);
        return { value: response.completion, usage: response.completion?.usage, upstreamMs: response.upstreamMs };
      });
      return create(RouterServiceCompleteResponseSchema, { completion: value, served });
    },

    completeStream(request: RouterServiceCompleteStreamRequest, ctx: HandlerContext): AsyncIterableIterator<RouterServiceCompleteStreamResponse> {
      return lazyMessages(() => {
        const completion = required(request.completion, "completion");
        const admitted = { operation: Operation.COMPLETE, model: completion.model, estimatedTokens: estimateCompletionTokens(completion) };
        return serveStream(
          ctx,
          admitted,
          (client, planned, signal) => client.completeStream({ target: planned.target, completion: { ...completion, model: planned.target.model } }, { signal }),
          completeStreamMessage,
        );
      });
    },

    async embed(request: RouterServiceEmbedRequest, ctx: HandlerContext): Promise<RouterServiceEmbedResponse> {
      const embed = required(request.embed, "embed");
      const admitted = { operation: Operation.EMBED, model: embed.model, estimatedTokens: estimateEmbedTokens(embed) };
      const { value, served } = await serveUnary(ctx, admitted, async (client, planned, options) => {
        const response = await client.embed({ target: planned.target, embed: { ...embed, model: planned.target.model } }, options);
        return { value: response.embed, usage: response.embed?.usage, upstreamMs: response.upstreamMs };
      });
      return create(RouterServiceEmbedResponseSchema, { embed: value, served });
    },

    async listModels(_request: unknown, ctx: HandlerContext): Promise<RouterServiceListModelsResponse> {
      const snapshot = deps.config.current();
      const admission = await admissions.admit(ctx, snapshot, { operation: Operation.LIST_MODELS, model: "", estimatedTokens: 0 });
      return create(RouterServiceListModelsResponseSchema, { models: modelsFor(snapshot, admission.principal) });
    },
  };
}

/**
 * One attempt of a streamed call: it succeeds once its first chunk arrives.
 * Until then a failure may be retried or fall back invisibly; after it, the
 * client has seen output and every failure is theirs to see. Made out here
 * so that only the attempts hold `open`, and through it the request: what
 * `serveStream`'s closures keep lives as long as the stream.
 */
function firstChunkAttempt<Chunk>(
  open: (client: AdapterClient, planned: PlannedTarget, signal: AbortSignal, route: Route) => AsyncIterable<{ chunk?: Chunk; upstreamMs?: number }>,
  route: Route,
) {
  return async (client: AdapterClient, planned: PlannedTarget, { signal }: AttemptCallOptions) => {
    // No timeoutMs: the deadline bounds the wait for the first chunk (through `signal`),
    // not the length of a healthy stream.
    const iterator = open(client, planned, signal, route)[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) throw emptyStreamError(planned);
    return { iterator, first: first.value };
  };
}

// The stream messages, made at module level: a closure made inside a handler
// would keep the handler's scope, request included, for as long as the stream.
const chatStreamMessage = (chunk: RouterServiceChatStreamResponse["chunk"], served?: Served) => create(RouterServiceChatStreamResponseSchema, { chunk, served });
const completeStreamMessage = (chunk: RouterServiceCompleteStreamResponse["chunk"], served?: Served) =>
  create(RouterServiceCompleteStreamResponseSchema, { chunk, served });

/** What one successful unary attempt yields: the answer, its usage and the adapter's upstream time. */
interface UnaryAnswer<T> {
  value: T;
  usage: Usage | undefined;
  upstreamMs: number;
}

/**
 * Builds `served`, sets the served-by and attempts response headers and logs
 * the outcome at debug. `upstreamMs` is the serving attempt's upstream time:
 * failed attempts and backoff before it count as time the mesh added.
 */
function markServed(ctx: HandlerContext, target: PlannedTarget, attempts: number, upstreamMs: number, logger: Logger, model: string): Served {
  ctx.responseHeader.set(Header.ServedBy, target.servedBy);
  ctx.responseHeader.set(Header.Attempts, String(attempts));
  logger.debug("served", { model, servedBy: target.servedBy, attempts });
  return create(ServedSchema, { provider: target.provider, model: target.target.model, attempts, upstreamMs });
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw meshError(Code.InvalidArgument, `The request has no '${field}'.`, { reason: Reason.InvalidRequest, param: field });
  }
  return value;
}

function emptyStreamError(planned: PlannedTarget) {
  // Internal with no upstream status: classified as transient, so it is retried like a dropped connection.
  return meshError(Code.Internal, `Provider '${planned.provider}' ended the stream without sending anything.`, {
    reason: Reason.UpstreamError,
    provider: planned.provider,
  });
}
