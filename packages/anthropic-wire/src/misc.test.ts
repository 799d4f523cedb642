import { create } from "@bufbuild/protobuf";
import { ChatRequestSchema } from "@llmmesh/proto";
import { WireError } from "@llmmesh/openai-wire";
import { describe, expect, it } from "vitest";
import { estimateInputTokens } from "./count-tokens.js";
import { anthropicErrorToJson, anthropicErrorType } from "./errors.js";
import { messagesRequestFromJson } from "./request.js";
import { apiVersionFromHeader } from "./version.js";

describe("anthropicErrorToJson", () => {
  it.each([
    [400, "invalid_request_error"],
    [401, "authentication_error"],
    [403, "permission_error"],
    [404, "not_found_error"],
    [405, "invalid_request_error"],
    [413, "request_too_large"],
    [429, "rate_limit_error"],
    [500, "api_error"],
    [502, "api_error"],
    [503, "overloaded_error"],
    [504, "timeout_error"],
    [529, "overloaded_error"],
  ])("status %i is %s", (status, type) => {
    expect(anthropicErrorType(status)).toBe(type);
  });

  it("builds the envelope with the request id", () => {
    expect(anthropicErrorToJson(404, "model: x", "req-1")).toEqual({
      type: "error",
      error: { type: "not_found_error", message: "model: x" },
      request_id: "req-1",
    });
  });
});

describe("apiVersionFromHeader", () => {
  it("accepts the versions it speaks", () => {
    expect(apiVersionFromHeader("2023-06-01")).toBe("2023-06-01");
    expect(apiVersionFromHeader("2026-10-21")).toBe("2026-10-21");
  });

  it.each([[undefined], [""], ["2023-01-01"], ["latest"], [["2023-06-01", "2026-10-21"]]])("refuses %j, naming the header", (value) => {
    const refuse = () => apiVersionFromHeader(value);
    expect(refuse).toThrow(WireError);
    expect(refuse).toThrow(/^anthropic-version: /);
  });
});

describe("estimateInputTokens", () => {
  const count = (body: Record<string, unknown>) =>
    estimateInputTokens(messagesRequestFromJson({ model: "m", ...body }, "2023-06-01", "count_tokens").request);

  it("counts ~4 characters a token plus 3 per message", () => {
    expect(count({ messages: [{ role: "user", content: "12345678" }] })).toBe(3 + 2);
    expect(count({ system: "abcd", messages: [{ role: "user", content: "x" }] })).toBe(3 + 1 + 3 + 1);
  });

  it("adds tools, tool calls and a flat amount per image", () => {
    const tools = [{ name: "abcd", description: "abcd", input_schema: { type: "object" } }];
    const schemaTokens = Math.ceil(JSON.stringify({ type: "object" }).length / 4);
    expect(count({ tools, messages: [{ role: "user", content: "x" }] })).toBe(3 + 1 + 3 + 1 + 1 + schemaTokens);
    const image = { type: "image", source: { type: "url", url: "https://x/y.png" } };
    expect(count({ messages: [{ role: "user", content: [image] }] })).toBe(3 + 1600);
  });

  it("is zero for an empty request", () => {
    expect(estimateInputTokens(create(ChatRequestSchema))).toBe(0);
  });
});
