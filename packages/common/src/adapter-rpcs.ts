/**
 * The RPC shell every adapter shares: it checks each AdapterService request,
 * asks the adapter for the protocol and call that serve the named provider,
 * and hands the work to that protocol. Adapters differ only in how they open
 * a call (which config they read, which secrets they resolve, which pools
 * they use) and in the protocols they speak.
 */
import { Code, type ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type {
  AdapterService,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  CompletionChunk,
  CompletionRequest,
  CompletionResponse,
  EmbedRequest,
  EmbedResponse,
  ModelInfo,
  Target,
} from "@llmmesh/proto";
import { meshError, Reason } from "./errors.js";
import { lazyMessages, mapMessages } from "./stream-iterators.js";

/** The result of a health probe. */
export interface ProbeResult {
  healthy: boolean;
  latencyMs: number;
  message: string;
}

/**
 * One wire protocol an adapter speaks. `Call` is what the adapter binds for
 * one RPC (the provider's config, the cancellation signal, a logger, …).
 * Implementations hold every quirk of their protocol; the shell around them
 * knows none. Failures are thrown as mesh errors (`meshError`), precise
 * enough for the router to decide on retries.
 */
export interface AdapterProtocol<Call> {
  /** A complete chat answer from `model`. */
  chat(call: Call, model: string, request: ChatRequest): Promise<ChatResponse>;
  /** The chunks of a streamed answer, each yielded as soon as it is there, ending with the usage chunk (no choices). */
  chatStream(call: Call, model: string, request: ChatRequest): AsyncIterable<ChatChunk>;
  /** Embeddings from `model`. */
  embed(call: Call, model: string, request: EmbedRequest): Promise<EmbedResponse>;
  /** The models the provider says it serves. */
  listModels(call: Call): Promise<ModelInfo[]>;
  /** Whether the provider answers; never throws for upstream failures (only for cancellation). */
  probe(call: Call): Promise<ProbeResult>;
  /**
   * A complete legacy text completion from `model`. Absent when the protocol
   * has no such API: the shell then refuses (see `unsupportedError`).
   */
  complete?(call: Call, model: string, request: CompletionRequest): Promise<CompletionResponse>;
  /** The chunks of a streamed text completion, ending with the usage chunk (no choices); absent with `complete`. */
  completeStream?(call: Call, model: string, request: CompletionRequest): AsyncIterable<CompletionChunk>;
}

/** The protocol that serves one RPC, and the call it is given. */
export interface OpenedCall<Call> {
  protocol: AdapterProtocol<Call>;
  call: Call;
  /**
   * How long the call has waited on its upstream so far, in milliseconds,
   * for adapters that measure their I/O. Absent: the protocol's whole run
   * counts as upstream time (a native protocol that is its own upstream).
   */
  upstreamMs?: () => number;
}

/**
 * Opens one RPC against the provider named `providerName`, with the RPC's
 * context (its signal aborts when the RPC is cancelled or its deadline
 * passes). Throws a mesh error when the provider cannot be served.
 */
export type OpenCall<Call> = (providerName: string, ctx: HandlerContext) => OpenedCall<Call>;

/**
 * Creates an adapter's AdapterService implementation around `open`. Requests
 * missing a target, provider, model, chat, embed or completion request are
 * refused with InvalidArgument (reason `invalid_request`, `param` naming the
 * field) before any provider is opened; completions against a protocol
 * without them, with `unsupportedError`.
 */
export function createAdapterRpcs<Call>(open: OpenCall<Call>): ServiceImpl<typeof AdapterService> {
  return {
    async chat(req, ctx) {
      const target = requireTarget(req.target);
      const opened = open(target.provider, ctx);
      const started = performance.now();
      const chat = await opened.protocol.chat(opened.call, target.model, requireChat(req.chat));
      return { chat, upstreamMs: upstreamMsOf(opened, started) };
    },

    chatStream(req, ctx) {
      return lazyMessages(async () => {
        const target = requireTarget(req.target);
        const opened = open(target.provider, ctx);
        const stamp = upstreamTimeStamp(opened, performance.now());
        return mapMessages(opened.protocol.chatStream(opened.call, target.model, requireChat(req.chat))[Symbol.asyncIterator](), { map: stamp });
      });
    },

    async embed(req, ctx) {
      const target = requireTarget(req.target);
      if (req.embed === undefined) throw invalid("embed is required", "embed");
      const opened = open(target.provider, ctx);
      const started = performance.now();
      const embed = await opened.protocol.embed(opened.call, target.model, req.embed);
      return { embed, upstreamMs: upstreamMsOf(opened, started) };
    },

    async complete(req, ctx) {
      const target = requireTarget(req.target);
      const completion = requireCompletion(req.completion);
      const opened = open(target.provider, ctx);
      if (opened.protocol.complete === undefined) throw unsupportedError(target, "the completions API");
      const started = performance.now();
      const answer = await opened.protocol.complete(opened.call, target.model, completion);
      return { completion: answer, upstreamMs: upstreamMsOf(opened, started) };
    },

    completeStream(req, ctx) {
      return lazyMessages(async () => {
        const target = requireTarget(req.target);
        const completion = requireCompletion(req.completion);
        const opened = open(target.provider, ctx);
        if (opened.protocol.completeStream === undefined) throw unsupportedError(target, "the completions API");
        const stamp = upstreamTimeStamp(opened, performance.now());
        return mapMessages(opened.protocol.completeStream(opened.call, target.model, completion)[Symbol.asyncIterator](), { map: stamp });
      });
    },

    async listModels(req, ctx) {
      if (req.provider === "") throw invalid("provider is required", "provider");
      const { protocol, call } = open(req.provider, ctx);
      return { models: await protocol.listModels(call) };
    },

    async probe(req, ctx) {
      const provider = req.target?.provider ?? "";
      if (provider === "") throw invalid("target.provider is required", "target.provider");
      const { protocol, call } = open(provider, ctx);
      const result = await protocol.probe(call);
      return { healthy: result.healthy, latencyMs: BigInt(result.latencyMs), message: result.message };
    },
  };
}

/** What `unknownProtocolError` names. */
export interface UnknownProtocol {
  /** The adapter refusing, e.g. "adapter-openai". */
  adapter: string;
  provider: string;
  /** The protocol the provider's config asks for. */
  protocol: string;
  /** The protocols the adapter does speak. */
  spoken: Iterable<string>;
}

/**
 * The error for a provider whose configured protocol the adapter does not
 * speak: FailedPrecondition with reason `provider_misconfigured`, since only
 * an operator can fix it (retrying elsewhere with the same config cannot).
 */
export function unknownProtocolError({ adapter, provider, protocol, spoken }: UnknownProtocol): ConnectError {
  return meshError(
    Code.FailedPrecondition,
    `provider "${provider}" uses protocol "${protocol}", which ${adapter} does not speak (it speaks: ${[...spoken].join(", ")})`,
    { reason: Reason.ProviderMisconfigured, provider },
  );
}

/**
 * The error for a request whose kind the target's protocol cannot serve:
 * InvalidArgument (the request, not the upstream, is at fault: a 400 at the
 * edge) with reason `unsupported_feature` and `param` "model", which the
 * router reads as "try the next target" rather than as the client's mistake.
 */
function unsupportedError(target: Target, feature: string): ConnectError {
  return meshError(Code.InvalidArgument, `model "${target.model}" of provider "${target.provider}" does not support ${feature}`, {
    reason: Reason.UnsupportedFeature,
    provider: target.provider,
    param: "model",
  });
}

/**
 * Turns a protocol's chunks into stream responses, the first one carrying
 * the upstream's time to it. A plain map, not a wrapping generator: every
 * generator layer adds promises that live from one chunk to the next.
 */
function upstreamTimeStamp(opened: OpenedCall<unknown>, started: number): <Chunk>(chunk: Chunk) => { chunk: Chunk; upstreamMs?: number } {
  let first = true;
  return (chunk) => {
    if (!first) return { chunk };
    first = false;
    return { chunk, upstreamMs: upstreamMsOf(opened, started) };
  };
}

/** The upstream time of a call that began at `started`: as the adapter measured it, else all of it. */
function upstreamMsOf(opened: OpenedCall<unknown>, started: number): number {
  return opened.upstreamMs?.() ?? performance.now() - started;
}

function requireTarget(target: Target | undefined): Target {
  if (target === undefined || target.provider === "") throw invalid("target.provider is required", "target.provider");
  if (target.model === "") throw invalid("target.model is required", "target.model");
  return target;
}

function requireChat(chat: ChatRequest | undefined): ChatRequest {
  if (chat === undefined) throw invalid("chat is required", "chat");
  return chat;
}

function requireCompletion(completion: CompletionRequest | undefined): CompletionRequest {
  if (completion === undefined) throw invalid("completion is required", "completion");
  return completion;
}

function invalid(message: string, param: string): ConnectError {
  return meshError(Code.InvalidArgument, message, { reason: Reason.InvalidRequest, param });
}
