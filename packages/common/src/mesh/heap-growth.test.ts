import { describe, expect, it } from "vitest";
import { DEFAULT_HEAP_SLACK_MIB, growthPercentFor, heapSlackToManage } from "./heap-growth.js";

const MiB = 2 ** 20;

describe("heapSlackToManage", () => {
  it("bounds the heap's garbage to 64 MiB unless told otherwise", () => {
    expect(DEFAULT_HEAP_SLACK_MIB).toBe(64);
    expect(heapSlackToManage({}, [])).toBe(64 * MiB);
    expect(heapSlackToManage({ LLMMESH_HEAP_SLACK_MIB: "" }, [])).toBe(64 * MiB);
  });

  it("takes the operator's MiB, and 0 leaves V8's own heuristics", () => {
    expect(heapSlackToManage({ LLMMESH_HEAP_SLACK_MIB: "256" }, [])).toBe(256 * MiB);
    expect(heapSlackToManage({ LLMMESH_HEAP_SLACK_MIB: "0" }, [])).toBeUndefined();
  });

  it("leaves a --heap-growing-percent on node's command line alone", () => {
    expect(heapSlackToManage({ LLMMESH_HEAP_SLACK_MIB: "256" }, ["--heap-growing-percent=35"])).toBeUndefined();
    expect(heapSlackToManage({}, ["--heap_growing_percent=35"])).toBeUndefined();
    expect(heapSlackToManage({}, ["--max-semi-space-size=16"])).toBe(64 * MiB);
  });

  it.each(["64MiB", "-1", "1.5", "lots", "65537"])("refuses %j with a message naming the variable", (raw) => {
    expect(() => heapSlackToManage({ LLMMESH_HEAP_SLACK_MIB: raw }, [])).toThrow(
      `LLMMESH_HEAP_SLACK_MIB must be a whole number of MiB from 0 (V8's own heuristics) to 65536, got "${raw}"`,
    );
  });
});

describe("growthPercentFor", () => {
  it("lets a large heap grow by the slack alone", () => {
    expect(growthPercentFor(256 * MiB, 64 * MiB)).toBe(25);
    expect(growthPercentFor(128 * MiB, 64 * MiB)).toBe(50);
  });

  it("never grows a huge heap by less than 20 %, so full collections cannot run back to back", () => {
    expect(growthPercentFor(1024 * MiB, 64 * MiB)).toBe(20);
  });

  it("lets a small heap grow as far as V8 itself would, and no further", () => {
    expect(growthPercentFor(32 * MiB, 64 * MiB)).toBe(200);
    expect(growthPercentFor(8 * MiB, 64 * MiB)).toBe(300);
    expect(growthPercentFor(0, 64 * MiB)).toBe(300);
  });
});
