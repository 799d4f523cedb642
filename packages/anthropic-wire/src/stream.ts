/**
 * Streamed `ChatChunk`s → the Messages API's server-sent events, in the order
 * Anthropic sends them:
 *
 *   message_start
 *   content_block_start, ping (after the first block opens), content_block_delta..., content_block_stop
 *   ... one start/deltas/stop group per block (text, then each tool_use) ...
 *   message_delta (stop_reason, stop_sequence, usage)
 *   message_stop
 *
 * A text block opens at the first non-empty text, a tool_use block at each
 * new tool call; the open block closes when the next one opens or the answer
 * ends. Usage only arrives on the upstream's last chunk, so `message_start`
 * carries zeros and `message_delta` the real counts (clients take the
 * latter, which Anthropic also sends cumulatively).
 */
import type { ChatChunk, ToolCallDelta, Usage } from "@llmmesh/proto";
import { messageId, stopInfo, usageToJson } from "./stop-reason.js";

/** One event: its `type` is also the SSE `event:` name. */
export type MessageStreamEvent = { type: string } & Record<string, unknown>;

type OpenBlock = { readonly kind: "text" } | { readonly kind: "tool_use"; readonly toolIndex: bigint; readonly id: string | undefined };

/** Translates one stream; feed every chunk to `push`, then call `end` once. */
export class MessageStreamTranslator {
  readonly #stopSequences: readonly string[];
  #started = false;
  #pinged = false;
  #open: OpenBlock | undefined;
  /** Index of the last block opened; -1 before the first. */
  #blockIndex = -1;
  #toolCalls = 0;
  #sawText = false;
  #sawRefusal = false;
  #finishReason: string | undefined;
  #choiceExtraJson = "";
  #usage: Usage | undefined;

  /** `stopSequences`: the request's, to name the one that ended the answer when the upstream says so. */
  constructor(stopSequences: readonly string[]) {
    this.#stopSequences = stopSequences;
  }

  /** The events one chunk produces (often one, sometimes none or several). */
  push(chunk: ChatChunk): MessageStreamEvent[] {
    const events: MessageStreamEvent[] = [];
    if (!this.#started) this.#start(chunk, events);
    if (chunk.usage !== undefined) this.#usage = chunk.usage;
    for (const choice of chunk.choices) {
      // The Messages API has one answer per request; the gateway never asks for more.
      if (choice.index !== 0n) continue;
      const delta = choice.delta;
      if (delta !== undefined) {
        if (delta.content) {
          this.#sawText = true;
          this.#text(delta.content, events);
        }
        if (delta.refusal) {
          this.#sawRefusal = true;
          this.#text(delta.refusal, events);
        }
        for (const call of delta.toolCalls) this.#toolCall(call, events);
      }
      if (choice.finishReason !== undefined) {
        this.#finishReason = choice.finishReason;
        this.#choiceExtraJson = choice.extraJson;
      }
    }
    return events;
  }

  /** The closing events, once the upstream stream has ended. */
  end(): MessageStreamEvent[] {
    const events: MessageStreamEvent[] = [];
    if (!this.#started) this.#start(undefined, events);
    this.#close(events);
    if (!this.#pinged) this.#ping(events);
    const stop = stopInfo({
      finishReason: this.#finishReason,
      hasToolCalls: this.#toolCalls > 0,
      refused: this.#sawRefusal && !this.#sawText,
      stopSequences: this.#stopSequences,
      choiceExtraJson: this.#choiceExtraJson,
    });
    events.push({ type: "message_delta", delta: stop, usage: usageToJson(this.#usage) });
    events.push({ type: "message_stop" });
    return events;
  }

  #start(chunk: ChatChunk | undefined, events: MessageStreamEvent[]): void {
    this.#started = true;
    events.push({
      type: "message_start",
      // Anthropic's own key order: model first.
      message: {
        model: chunk?.model ?? "",
        id: messageId(chunk?.id ?? ""),
        type: "message",
        role: "assistant",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: usageToJson(undefined),
      },
    });
  }

  #text(text: string, events: MessageStreamEvent[]): void {
    if (this.#open?.kind !== "text") this.#openBlock({ kind: "text" }, { type: "text", text: "" }, events);
    events.push({ type: "content_block_delta", index: this.#blockIndex, delta: { type: "text_delta", text } });
  }

  #toolCall(call: ToolCallDelta, events: MessageStreamEvent[]): void {
    const open = this.#open;
    // A fragment of another call, or with a new id, starts a new tool_use block
    // (some compatible servers repeat the same id on every fragment of one call).
    if (open?.kind !== "tool_use" || open.toolIndex !== call.index || (call.id && call.id !== open.id)) {
      this.#toolCalls++;
      this.#openBlock(
        { kind: "tool_use", toolIndex: call.index, id: call.id },
        { type: "tool_use", id: call.id || `toolu_llmmesh_${this.#toolCalls}`, name: call.name ?? "", input: {} },
        events,
      );
    }
    if (call.arguments) {
      events.push({ type: "content_block_delta", index: this.#blockIndex, delta: { type: "input_json_delta", partial_json: call.arguments } });
    }
  }

  #openBlock(block: OpenBlock, contentBlock: Record<string, unknown>, events: MessageStreamEvent[]): void {
    this.#close(events);
    this.#open = block;
    this.#blockIndex++;
    events.push({ type: "content_block_start", index: this.#blockIndex, content_block: contentBlock });
    if (!this.#pinged) this.#ping(events);
  }

  #close(events: MessageStreamEvent[]): void {
    if (this.#open === undefined) return;
    this.#open = undefined;
    events.push({ type: "content_block_stop", index: this.#blockIndex });
  }

  #ping(events: MessageStreamEvent[]): void {
    this.#pinged = true;
    events.push({ type: "ping" });
  }
}
