/**
 * What `JSON.parse` lets through silently and we refuse: duplicate object
 * keys (it keeps the last one, so a body can say two things at once and
 * different readers pick different ones) and nesting deep enough that later
 * recursive code — ours, `JSON.stringify`, a peer's parser — could run out
 * of stack and fail with a 500 instead of the client's 400.
 *
 * One forward pass over the body text, run before `JSON.parse` so a deeply
 * nested body is refused before anything is built from it. String contents
 * are skipped with `indexOf` (a 20 MB base64 image costs one native search),
 * and only object keys are ever copied out. The pass trusts nothing: on text
 * that is not valid JSON it stops or reports harmlessly, and `JSON.parse`
 * then gives the syntax error.
 */
import { childParam } from "@llmmesh/openai-wire";

/** A structural problem, with the path of the field it was found in (`messages[0].role`). */
export type JsonStructureProblem =
  | { readonly kind: "duplicate-key"; readonly key: string; readonly path: string }
  /** `path` is the top-level field that nests too deeply ("" when the body is not an object). */
  | { readonly kind: "too-deep"; readonly maxDepth: number; readonly path: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Up to this many keys an object's keys are compared one by one; past it they go into a Set. */
const KEYS_BEFORE_SET = 8;

/**
 * The first duplicate key or the first container nested deeper than
 * `maxDepth` (the top-level value is depth 1), or undefined when there is
 * neither. Linear in the length of `text`.
 */
export function findJsonStructureProblem(text: string, maxDepth: number): JsonStructureProblem | undefined {
  // The open containers, outermost first, as plain numbers (no object per
  // container on the hot path): an object is the index in `keys` where its
  // own keys start; an array is -1 - the index of its current element.
  const open: number[] = [];
  // The keys of every open object, each object's in one run above its
  // parent's; a closing object drops its run.
  const keys: string[] = [];
  // By depth, for objects with more than KEYS_BEFORE_SET keys.
  const keySets: Array<Set<string> | undefined> = [];
  // True where the next string is an object key: after `{` and after `,` in an object.
  let expectKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i + 1);
      if (end === -1) return undefined; // unterminated: JSON.parse will say so
      if (expectKey) {
        expectKey = false;
        const key = keyText(text, i + 1, end);
        if (key === undefined) return undefined; // a bad escape: JSON.parse will say so
        const depth = open.length - 1;
        const duplicate = isKnownKey(key, keys, open[depth] as number, keySets, depth);
        keys.push(key);
        if (duplicate) return { kind: "duplicate-key", key, path: pathOf(open, keys, open.length) };
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      // Named by its top-level field only: the full path would be as long as the nesting is deep.
      if (open.length === maxDepth) return { kind: "too-deep", maxDepth, path: (open[0] as number) >= 0 ? pathOf(open, keys, 1) : "" };
      open.push(c === OPEN_OBJECT ? keys.length : -1);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      const closed = open.pop();
      if (closed !== undefined && closed >= 0) {
        keys.length = closed;
        if (open.length < keySets.length) keySets[open.length] = undefined;
      }
      expectKey = false;
    } else if (c === COMMA && open.length > 0) {
      const top = open.length - 1;
      const frame = open[top] as number;
      if (frame >= 0) expectKey = true;
      else open[top] = frame - 1;
    }
  }
  return undefined;
}

/** Whether the object open at `depth`, whose keys start at `start`, already has `key`. */
function isKnownKey(key: string, keys: string[], start: number, keySets: Array<Set<string> | undefined>, depth: number): boolean {
  const set = keySets[depth];
  if (set !== undefined) {
    if (set.has(key)) return true;
    set.add(key);
    return false;
  }
  for (let k = start; k < keys.length; k++) if (keys[k] === key) return true;
  if (keys.length - start === KEYS_BEFORE_SET) {
    const created = new Set(keys.slice(start));
    created.add(key);
    keySets[depth] = created;
  }
  return false;
}

/** Index of the quote that closes a string whose contents start at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote !== -1) {
    // A quote is escaped when an odd number of backslashes precedes it; each
    // backslash is counted once, by the quote that follows its run.
    let backslashes = 0;
    for (let j = quote - 1; j >= from && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}

/** A key's value, escapes decoded (`"mo\u0064el"` is `model`), or undefined when its escapes are invalid. */
function keyText(text: string, start: number, end: number): string | undefined {
  for (let j = start; j < end; j++) {
    if (text.charCodeAt(j) === BACKSLASH) {
      try {
        return JSON.parse(text.slice(start - 1, end + 1)) as string;
      } catch {
        return undefined;
      }
    }
  }
  return text.slice(start, end);
}

/**
 * The path of the outermost `count` open containers' current positions, as
 * OpenAI's `param` spells it. Only built for an error, so it may be slow.
 */
function pathOf(open: readonly number[], keys: readonly string[], count: number): string {
  let path = "";
  for (let depth = 0; depth < count; depth++) {
    const frame = open[depth] as number;
    if (frame < 0) {
      path = childParam(path, -1 - frame);
      continue;
    }
    // An object's current key is the last of its run, which ends where the next open object's begins.
    let end = keys.length;
    for (let deeper = depth + 1; deeper < open.length; deeper++) {
      if ((open[deeper] as number) >= 0) {
        end = open[deeper] as number;
        break;
      }
    }
    path = childParam(path, keys[end - 1] ?? "");
  }
  return path;
}
