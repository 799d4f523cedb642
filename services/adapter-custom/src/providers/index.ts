import type { CustomProtocol } from "./provider.js";
import { mockProtocol } from "./mock/index.js";

/**
 * Every protocol adapter-custom speaks, by the name a provider's `protocol`
 * uses in config. The one place that knows them all: add a protocol with
 * one line here.
 */
export const protocols: ReadonlyMap<string, CustomProtocol> = new Map<string, CustomProtocol>([
  ["mock", mockProtocol],
]);

/** The protocol of providers that name none: the built-in mock, so a first request needs no key. */
export const DEFAULT_PROTOCOL = "mock";
