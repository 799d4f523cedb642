import { describe, expect, it } from "vitest";
import { unifiedDiff } from "./config-diff.js";

const labels = { before: "revision 3", after: "new.yaml" };
const lines = (n: number, prefix = "line") => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

describe("unifiedDiff", () => {
  it("is empty for equal documents", () => {
    expect(unifiedDiff("a\nb\n", "a\nb\n", labels)).toBe("");
  });

  it("shows an added block with three lines of context and diff -u line numbers", () => {
    const before = lines(10).join("\n") + "\n";
    const after = [...lines(5), "added 1", "added 2", ...lines(10).slice(5)].join("\n") + "\n";
    expect(unifiedDiff(before, after, labels)).toBe(
      ["--- revision 3", "+++ new.yaml", "@@ -3,6 +3,8 @@", " line 3", " line 4", " line 5", "+added 1", "+added 2", " line 6", " line 7", " line 8", ""].join("\n"),
    );
  });

  it("shows a changed line as removed then added", () => {
    expect(unifiedDiff("a\nkey: ${OLD}\nb\n", "a\nkey: ${NEW}\nb\n", labels)).toBe(
      ["--- revision 3", "+++ new.yaml", "@@ -1,3 +1,3 @@", " a", "-key: ${OLD}", "+key: ${NEW}", " b", ""].join("\n"),
    );
  });

  it("keeps distant changes in separate hunks and close ones in one", () => {
    const before = lines(30);
    const far = [...before];
    far[1] = "changed 2";
    far[25] = "changed 26";
    expect(unifiedDiff(before.join("\n"), far.join("\n"), labels).match(/^@@/gm)).toHaveLength(2);
    const near = [...before];
    near[1] = "changed 2";
    near[8] = "changed 9";
    expect(unifiedDiff(before.join("\n"), near.join("\n"), labels).match(/^@@/gm)).toHaveLength(1);
  });

  it("diffs against an empty bucket as all added", () => {
    expect(unifiedDiff("", "a\nb\n", { before: "(empty bucket)", after: "x.yaml" })).toBe(["--- (empty bucket)", "+++ x.yaml", "@@ -0,0 +1,2 @@", "+a", "+b", ""].join("\n"));
  });
});
