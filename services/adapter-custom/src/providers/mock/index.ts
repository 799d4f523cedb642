import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { ModelInfoSchema } from "@llmmesh/proto";
import type { CustomProtocol, ProtocolCall } from "../provider.js";
import { abortError } from "../../abort.js";
import { mockOptions } from "./options.js";
import { mockAnswer, toChunks, toResponse } from "./answer.js";
import { mockEmbed } from "./embeddings.js";
import { checkRequestFields } from "./request-fields.js";

/**
 * The built-in mock model: answers every request deterministically from its
 * content, with no network and no key, so a newcomer's first request works.
 * Which request fields it expresses, translates or refuses: ./request-fields.ts.
 * Provider options: `delay_ms` between streamed chunks (default 20) and
 * `reply`, a fixed answer text. Like today's chat models it has no legacy
 * text-completions API: without `complete`, such requests are refused as
 * unsupported (a 400 at the edge once no other target can serve them).
 */
export const mockProtocol: CustomProtocol = {
  async chat(call, model, request) {
    const options = mockOptions(call.provider);
    const legacy = checkRequestFields(request, call.provider.name);
    throwIfAborted(call);
    return toResponse(mockAnswer(model, request, options.reply, legacy));
  },

  async *chatStream(call, model, request) {
    const options = mockOptions(call.provider);
    const legacy = checkRequestFields(request, call.provider.name);
    let first = true;
    for (const chunk of toChunks(mockAnswer(model, request, options.reply, legacy))) {
      if (!first && options.delayMs > 0) await pause(call, options.delayMs);
      throwIfAborted(call);
      first = false;
      yield chunk;
    }
  },

  async embed(call, model, request) {
    throwIfAborted(call);
    return mockEmbed(model, request);
  },

  async listModels(call) {
    const ids = new Set<string>();
    for (const model of call.snapshot.config.models) {
      for (const target of model.targets) if (target.provider === call.provider.name) ids.add(target.model);
    }
    return [...ids].map((id) => create(ModelInfoSchema, { id, created: 0n, ownedBy: "llmmesh-mock" }));
  },

  async probe(call) {
    throwIfAborted(call);
    return { healthy: true, latencyMs: 0, message: "the mock provider is always healthy" };
  },
};

/** Waits between chunks; a cancelled or timed-out RPC ends the wait (and the stream) at once. */
async function pause(call: ProtocolCall, ms: number): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: call.signal });
  } catch {
    throw abortError(call.signal, call.provider.name);
  }
}

function throwIfAborted(call: ProtocolCall): void {
  if (call.signal.aborted) throw abortError(call.signal, call.provider.name);
}
