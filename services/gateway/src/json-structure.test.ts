import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findJsonStructureProblem } from "./json-structure.js";

const MAX_DEPTH = 8;
const check = (text: string) => findJsonStructureProblem(text, MAX_DEPTH);

/** Nesting depth of a parsed JSON value, counting the value itself when it is a container. */
function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

describe("findJsonStructureProblem: duplicate keys", () => {
  it.each([
    ["at the top level", '{"model":"a","messages":[],"model":"b"}', "model", "model"],
    ["inside an array element", '{"messages":[{"role":"user"},{"role":"user","content":"x","role":"tool"}]}', "role", "messages[1].role"],
    ["spelt with escapes", '{"model":"a","mo\\u0064el":"b"}', "model", "model"],
    ["after strings full of braces, quotes and backslashes", '{"a":"}{\\"\\\\","b":"\\\\","a":1}', "a", "a"],
    ["in an object with many keys", `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(",")},"k17":0}`, "k17", "k17"],
    ["named __proto__", '{"x":{"__proto__":1,"__proto__":2}}', "__proto__", "x.__proto__"],
    ["the empty key", '{"":1,"":2}', "", ""],
    ["after a nested object closed", '{"a":{"b":{"c":1}},"d":[1,2],"a":0}', "a", "a"],
  ])("finds one %s", (_, text, key, path) => {
    expect(check(text)).toEqual({ kind: "duplicate-key", key, path });
  });

  it.each([
    ["the same key in sibling objects", '[{"a":1},{"a":2}]'],
    ["the same key in parent and child", '{"a":{"a":{"a":1}}}'],
    ["a parent key that a closed child also had", '{"x":{"b":1},"b":2}'],
    ["keys that differ only in case or spacing", '{"a":1,"A":2,"a ":3}'],
    ["values equal to keys", '{"a":"a","b":"a","c":["a","a"]}'],
    ["keys as string contents", '{"a":"\\"a\\":1","b":"{\\"a\\":2}"}'],
  ])("accepts %s", (_, text) => {
    expect(check(text)).toBeUndefined();
  });
});

describe("findJsonStructureProblem: nesting", () => {
  const nested = (depth: number, inner = "1") => `{"a":${"[".repeat(depth - 1)}${inner}${"]".repeat(depth - 1)}}`;

  it("accepts nesting down to the limit", () => {
    expect(check(nested(MAX_DEPTH))).toBeUndefined();
  });

  it("refuses one level more, naming the top-level field", () => {
    expect(check(nested(MAX_DEPTH + 1))).toEqual({ kind: "too-deep", maxDepth: MAX_DEPTH, path: "a" });
    expect(check(`{"ok":[[1]],"deep":${'{"x":'.repeat(MAX_DEPTH)}1${"}".repeat(MAX_DEPTH)}}`)).toEqual({
      kind: "too-deep",
      maxDepth: MAX_DEPTH,
      path: "deep",
    });
  });

  it("refuses 100,000 levels at once, without a path when the top level is not an object", () => {
    expect(check("[".repeat(100_000))).toEqual({ kind: "too-deep", maxDepth: MAX_DEPTH, path: "" });
    expect(findJsonStructureProblem(nested(10_000), 128)).toEqual({ kind: "too-deep", maxDepth: 128, path: "a" });
  });

  it("does not count brackets inside strings", () => {
    expect(check(`{"a":"${"[{".repeat(50)}\\"${"[".repeat(50)}"}`)).toBeUndefined();
  });
});

describe("findJsonStructureProblem: any input", () => {
  it("finds nothing in what JSON.stringify writes, when it is shallow enough", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const problem = check(JSON.stringify(value));
        if (depthOf(value) <= MAX_DEPTH) expect(problem).toBeUndefined();
        else expect(problem?.kind).toBe("too-deep");
      }),
      { seed: 4242, numRuns: 300 },
    );
  });

  it("reports depth exactly as deep as the parsed value is", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.integer({ min: 0, max: 2 * MAX_DEPTH }), (value, wrap) => {
        const text = "[".repeat(wrap) + JSON.stringify(value) + "]".repeat(wrap);
        expect(check(text) !== undefined).toBe(depthOf(value) + wrap > MAX_DEPTH);
      }),
      { seed: 4243, numRuns: 300 },
    );
  });

  it("finds a key written twice into any object, after any values", () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (key, first, second) => {
        const text = `{"outer":{${JSON.stringify(key)}:${JSON.stringify(first)},${JSON.stringify(key)}:${JSON.stringify(second)}}}`;
        expect(check(text)).toEqual({ kind: "duplicate-key", key, path: `outer.${key}` });
      }),
      { seed: 4244, numRuns: 300 },
    );
  });

  it("never throws on text that is not JSON", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("{", "}", "[", "]", '"', "\\", ",", ":", "a", "1", " ", "u") }), (text) => {
        const problem = check(text);
        expect(problem === undefined || problem.kind === "duplicate-key" || problem.kind === "too-deep").toBe(true);
      }),
      { seed: 4245, numRuns: 1000 },
    );
  });

  it("stops at an unterminated string or a bad escape and leaves them to JSON.parse", () => {
    expect(check('{"a":1,"a')).toBeUndefined();
    expect(check('{"a\\x":1,"a\\x":2}')).toBeUndefined();
  });
});
