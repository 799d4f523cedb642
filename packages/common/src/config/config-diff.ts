/** Lines of context around each change, as `diff -u` shows. */
const CONTEXT = 3;

/** Above this many cells the middle of the two documents is shown as replaced whole, not aligned line by line. */
const MAX_TABLE_CELLS = 4_000_000;

type Op = { kind: " " | "-" | "+"; line: string; oldNo: number; newNo: number };

/**
 * A unified diff (`diff -u` style, 3 lines of context) from `before` to
 * `after`, with the given header labels; "" when the texts are equal. For
 * operators reviewing a push, so it favours clarity over minimality on huge
 * rewrites.
 */
export function unifiedDiff(before: string, after: string, labels: { before: string; after: string }): string {
  if (before === after) return "";
  const ops = diffLines(splitLines(before), splitLines(after));
  const hunks = groupHunks(ops);
  if (hunks.length === 0) return "";
  const out = [`--- ${labels.before}`, `+++ ${labels.after}`];
  for (const hunk of hunks) {
    const first = hunk[0] as Op;
    const oldCount = hunk.filter((op) => op.kind !== "+").length;
    const newCount = hunk.filter((op) => op.kind !== "-").length;
    out.push(`@@ -${rangeStart(first.oldNo, oldCount)},${oldCount} +${rangeStart(first.newNo, newCount)},${newCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
  }
  return out.join("\n") + "\n";
}

function rangeStart(lineNo: number, count: number): number {
  return count === 0 ? lineNo - 1 : lineNo;
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Every line of both texts, in order, marked kept, removed or added (line numbers are 1-based). */
function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;

  const ops: Op[] = [];
  let oldNo = 1;
  let newNo = 1;
  const keep = (line: string) => ops.push({ kind: " ", line, oldNo: oldNo++, newNo: newNo++ });
  const remove = (line: string) => ops.push({ kind: "-", line, oldNo: oldNo++, newNo });
  const add = (line: string) => ops.push({ kind: "+", line, oldNo, newNo: newNo++ });

  for (let i = 0; i < prefix; i++) keep(a[i] as string);
  const midA = a.slice(prefix, a.length - suffix);
  const midB = b.slice(prefix, b.length - suffix);
  for (const step of alignMiddle(midA, midB)) {
    if (step.kind === " ") keep(step.line);
    else if (step.kind === "-") remove(step.line);
    else add(step.line);
  }
  for (let i = a.length - suffix; i < a.length; i++) keep(a[i] as string);
  return ops;
}

/** Longest-common-subsequence alignment of two line lists (removals before additions at each change). */
function alignMiddle(a: readonly string[], b: readonly string[]): Array<{ kind: " " | "-" | "+"; line: string }> {
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > MAX_TABLE_CELLS) {
    return [...a.map((line) => ({ kind: "-" as const, line })), ...b.map((line) => ({ kind: "+" as const, line }))];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..], flattened.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j] ? (lcs[(i + 1) * width + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * width + j] as number, lcs[i * width + j + 1] as number);
    }
  }
  const steps: Array<{ kind: " " | "-" | "+"; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      steps.push({ kind: " ", line: a[i] as string });
      i++;
      j++;
    } else if (j >= m || (i < n && (lcs[(i + 1) * width + j] as number) >= (lcs[i * width + j + 1] as number))) {
      steps.push({ kind: "-", line: a[i] as string });
      i++;
    } else {
      steps.push({ kind: "+", line: b[j] as string });
      j++;
    }
  }
  return steps;
}

/** Changes with CONTEXT kept lines around them; changes closer than 2*CONTEXT share a hunk. */
function groupHunks(ops: readonly Op[]): Op[][] {
  const changed = ops.map((op, index) => (op.kind === " " ? -1 : index)).filter((index) => index >= 0);
  const hunks: Op[][] = [];
  let start = -1;
  let end = -1;
  for (const index of changed) {
    if (start >= 0 && index - end - 1 <= 2 * CONTEXT) {
      end = index;
      continue;
    }
    if (start >= 0) hunks.push(ops.slice(Math.max(0, start - CONTEXT), Math.min(ops.length, end + CONTEXT + 1)));
    start = index;
    end = index;
  }
  if (start >= 0) hunks.push(ops.slice(Math.max(0, start - CONTEXT), Math.min(ops.length, end + CONTEXT + 1)));
  return hunks;
}
