import { describe, expect, it } from "vitest";
import { parseConfig } from "@llmmesh/common";
import { checkAdapterAddresses } from "./adapter-addresses.js";

const config = (adapters: string) =>
  parseConfig(`
providers:
  - { name: a, adapter: openai, base_url: "http://x/v1" }
  - { name: b, adapter: custom }
  - { name: c, adapter: remote }
  - { name: d, adapter: remote }
adapters: ${adapters}
`);

describe("the router's check of a config revision", () => {
  it("accepts built-in adapters and http(s) addresses", () => {
    expect(checkAdapterAddresses(config('{ remote: "https://remote.internal:7103" }'), {})).toEqual([]);
  });

  it("refuses an address the router cannot call, once per adapter, naming where it came from", () => {
    expect(checkAdapterAddresses(config('{ remote: "grpc://remote.internal:7103" }'), {})).toEqual([
      'adapters.remote: adapter "remote" address "grpc://remote.internal:7103" is not an http(s) URL the router can call',
    ]);
    expect(checkAdapterAddresses(config('{ remote: "https://ok" }'), { LLMMESH_ADAPTER_OPENAI_URL: "unix:/run/adapter.sock" })).toEqual([
      'LLMMESH_ADAPTER_OPENAI_URL: adapter "openai" address "unix:/run/adapter.sock" is not an http(s) URL the router can call',
    ]);
  });
});
