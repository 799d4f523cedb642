import { WireError } from "@llmmesh/openai-wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messagesRequestFromJson, type MessagesEndpoint } from "./request.js";
import { API_VERSIONS, type ApiVersion } from "./version.js";

/** What a parse came to: accepted, or refused with a WireError (a 400 at the edge). Anything else escapes: a 500. */
function outcome(body: Record<string, unknown>, version: ApiVersion, endpoint: MessagesEndpoint): "accepted" | "refused" {
  try {
    messagesRequestFromJson(body, version, endpoint);
    return "accepted";
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
    return "refused";
  }
}

const json = fc.jsonValue({ maxDepth: 3 });
/** Mostly `valid`, sometimes any JSON at all. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: json, weight: 1 });
/** Usually absent. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: arb, weight: 1 });

const toolId = fc.constantFrom("t1", "t2");
const text = fc.record({ type: fc.constant("text"), text: fc.string({ minLength: 1 }) });
const image = fc.record({
  type: fc.constant("image"),
  source: fc.oneof(
    fc.record({ type: fc.constant("url"), url: fc.webUrl() }),
    fc.record({ type: fc.constant("base64"), media_type: fc.constantFrom("image/png", "image/bmp"), data: fc.base64String() }),
  ),
});
const toolResult = fc.record({
  type: fc.constant("tool_result"),
  tool_use_id: toolId,
  content: rarely(fc.oneof(fc.string(), fc.array(text, { maxLength: 2 }))),
  is_error: rarely(fc.boolean()),
});
const toolUse = fc.record({ type: fc.constant("tool_use"), id: toolId, name: fc.constantFrom("f", "g"), input: mostly(fc.object()) });
const userMessage = fc.record({
  role: fc.constant("user"),
  content: fc.oneof(fc.string(), fc.array(mostly(fc.oneof(text, image, toolResult)), { minLength: 1, maxLength: 3 })),
});
const assistantMessage = fc.record({
  role: fc.constant("assistant"),
  content: fc.oneof(fc.string(), fc.array(mostly(fc.oneof(text, toolUse)), { minLength: 1, maxLength: 3 })),
});
const tool = fc.record({ name: fc.constantFrom("f", "g"), input_schema: mostly(fc.constant({ type: "object" })) });

/** Bodies near the valid shape, so the fuzzing reaches deep into the parser, not just its first check. */
const body = fc
  .record({
    model: mostly(fc.constantFrom("m", "")),
    max_tokens: mostly(fc.integer({ min: -1, max: 100 })),
    messages: mostly(fc.array(mostly(fc.oneof(userMessage, assistantMessage)), { minLength: 1, maxLength: 4 })),
    system: rarely(mostly(fc.oneof(fc.string(), fc.array(text, { maxLength: 2 })))),
    tools: rarely(mostly(fc.array(tool, { maxLength: 2 }))),
    tool_choice: rarely(mostly(fc.record({ type: fc.constantFrom("auto", "any", "tool", "none"), name: fc.constantFrom("f", "h") }))),
    stop_sequences: rarely(mostly(fc.array(fc.string(), { maxLength: 3 }))),
    temperature: rarely(mostly(fc.double({ min: 0, max: 1, noNaN: true }))),
    top_k: rarely(mostly(fc.nat(100))),
    metadata: rarely(mostly(fc.record({ user_id: fc.string() }))),
    thinking: rarely(mostly(fc.record({ type: fc.constantFrom("disabled", "enabled") }))),
    stream: rarely(mostly(fc.boolean())),
    extra: rarely(json),
  })
  .map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)));

describe("messagesRequestFromJson under random input", () => {
  it("accepts or refuses with a WireError, never anything else, and accepts a fair share", () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(body, fc.constantFrom(...API_VERSIONS), (b, version) => {
        seen[outcome(b, version, "create")]++;
        outcome(b, version, "count_tokens");
      }),
      { numRuns: 2000 },
    );
    // Both sides are exercised: the generator is not just feeding the first check
    // (about 4% of these bodies are valid, so 20 is far below what any run gives).
    expect(seen.accepted).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(100);
  });

  it("does the same for any JSON object at all", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), json), (b) => {
        outcome(b, "2023-06-01", "create");
      }),
      { numRuns: 500 },
    );
  });
});
