import { describe, expect, it } from "vitest";
import { maskApiKey, sha256Hex } from "./api-key.js";

describe("maskApiKey", () => {
  it("shows the first 4 and last 2 characters of a normal key", () => {
    expect(maskApiKey("sk-abcdefghijklmnopyz")).toBe("sk-a****yz");
  });

  it("hides short keys completely", () => {
    expect(maskApiKey("abcdefghijk")).toBe("****");
    expect(maskApiKey("")).toBe("****");
  });
});

describe("sha256Hex", () => {
  it("is the lower-case hex digest of the UTF-8 key", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
