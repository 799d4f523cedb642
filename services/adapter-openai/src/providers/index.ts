import type { ProviderProtocol } from "./provider.js";
import { openAIProtocol } from "./openai/index.js";

/**
 * Every protocol this adapter speaks, by the name a provider's `protocol`
 * uses in config. The one place that knows them all: add a protocol with
 * one line here (Azure OpenAI and other variants compose `openAIProtocol`).
 */
export const protocols: ReadonlyMap<string, ProviderProtocol> = new Map<string, ProviderProtocol>([
  ["openai", openAIProtocol],
]);

/** The protocol of providers that name none. */
export const DEFAULT_PROTOCOL = "openai";
