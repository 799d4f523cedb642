import { describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWTH_PERCENT, heapGrowthToSet } from "./heap-growth.js";

describe("heapGrowthToSet", () => {
  it("holds the heap to 20 % growth unless told otherwise", () => {
    expect(heapGrowthToSet({}, [])).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBe(20);
    expect(heapGrowthToSet({ LLMMESH_HEAP_GROWTH_PERCENT: "" }, [])).toBe(20);
  });

  it("takes the operator's percent, and 0 leaves V8's own heuristics", () => {
    expect(heapGrowthToSet({ LLMMESH_HEAP_GROWTH_PERCENT: "50" }, [])).toBe(50);
    expect(heapGrowthToSet({ LLMMESH_HEAP_GROWTH_PERCENT: "0" }, [])).toBeUndefined();
  });

  it("leaves a --heap-growing-percent on node's command line alone", () => {
    expect(heapGrowthToSet({ LLMMESH_HEAP_GROWTH_PERCENT: "50" }, ["--heap-growing-percent=35"])).toBeUndefined();
    expect(heapGrowthToSet({}, ["--heap_growing_percent=35"])).toBeUndefined();
    expect(heapGrowthToSet({}, ["--max-semi-space-size=16"])).toBe(20);
  });

  it.each(["20%", "-1", "1.5", "lots", "1001"])("refuses %j with a message naming the variable", (raw) => {
    expect(() => heapGrowthToSet({ LLMMESH_HEAP_GROWTH_PERCENT: raw }, [])).toThrow(`LLMMESH_HEAP_GROWTH_PERCENT must be a whole number of percent from 0 (V8's own heuristics) to 1000, got "${raw}"`);
  });
});
