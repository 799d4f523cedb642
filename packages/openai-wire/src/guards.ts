/**
 * Small narrowing and validation helpers shared by the mappers. Each `expect*`
 * helper either returns the value with a precise type or throws a WireError
 * naming the offending field, so the mappers read as a list of rules.
 */
import { WireError } from "./errors.js";

/** A JSON object: not null, not an array. */
export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short name for a value's JSON type, for error messages. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

/** Builds the `param` of a nested field: `messages[2]` + `role` → `messages[2].role`. */
export function childParam(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

function invalid(param: string, expected: string, value: unknown): WireError {
  return new WireError(`Invalid '${param}': expected ${expected}, got ${jsonTypeOf(value)}.`, param);
}

/** The value as a JSON object, or a WireError naming `param`. */
export function expectObject(value: unknown, param: string): JsonObject {
  if (!isObject(value)) throw invalid(param, "an object", value);
  return value;
}

/** The value as an array, or a WireError naming `param`. */
export function expectArray(value: unknown, param: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(param, "an array", value);
  return value;
}

/** The value as a string, or a WireError naming `param`. */
export function expectString(value: unknown, param: string): string {
  if (typeof value !== "string") throw invalid(param, "a string", value);
  return value;
}

/** The value as a boolean, or a WireError naming `param`. */
export function expectBoolean(value: unknown, param: string): boolean {
  if (typeof value !== "boolean") throw invalid(param, "a boolean", value);
  return value;
}

/** Inclusive bounds for a numeric field. */
export interface Range {
  min?: number;
  max?: number;
}

function rangeText(range: Range): string {
  if (range.min !== undefined && range.max !== undefined) return ` between ${range.min} and ${range.max}`;
  if (range.min !== undefined) return ` >= ${range.min}`;
  if (range.max !== undefined) return ` <= ${range.max}`;
  return "";
}

function checkRange(value: number, param: string, range: Range, kind: string): void {
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
    throw new WireError(`Invalid '${param}': expected ${kind}${rangeText(range)}, got ${value}.`, param);
  }
}

/** The value as a finite number within `range`, or a WireError naming `param`. */
export function expectNumber(value: unknown, param: string, range: Range = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(param, `a number${rangeText(range)}`, value);
  checkRange(value, param, range, "a number");
  return value;
}

/**
 * The value as an int64 (`bigint`, as protobuf-es represents it) within
 * `range`, or a WireError naming `param`. Fractions are refused rather than
 * rounded: a silently changed count is worse than a clear 400.
 */
export function expectInteger(value: unknown, param: string, range: Range = {}): bigint {
  if (typeof value !== "number" || !Number.isInteger(value)) throw invalid(param, `an integer${rangeText(range)}`, value);
  checkRange(value, param, range, "an integer");
  // Beyond 2^53 a JSON number is no longer the integer the client wrote, and
  // past int64 it cannot be encoded at all: refuse it here, as a 400 naming the field.
  if (!Number.isSafeInteger(value)) throw invalid(param, `an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`, value);
  return BigInt(value);
}

/** An int64 back to a JSON number (counts and timestamps fit a double exactly). */
export function int64ToNumber(value: bigint): number {
  return Number(value);
}

/**
 * Sets an own enumerable property even for the key `__proto__`, which a plain
 * assignment would treat as a prototype change: client JSON may carry such a
 * key and it must neither be lost nor alter the object.
 */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Collects the fields of a wire object that the proto does not model (or
 * cannot express, such as an explicit `null` or an empty array), to be stored
 * as an `extra_json` string and merged back when rendering.
 */
export class ExtraFields {
  private fields: JsonObject | undefined;

  /** Keeps `key: value` for the round trip. */
  set(key: string, value: unknown): void {
    this.fields ??= {};
    setOwn(this.fields, key, value);
  }

  /** The collected fields as a JSON object string, or "" when there are none. */
  toJson(): string {
    return this.fields === undefined ? "" : JSON.stringify(this.fields);
  }
}

/**
 * Merges a stored `extra_json` object into a rendered wire object. Modelled
 * fields already in `target` win: extra fields only fill keys the proto did
 * not render (an explicit `null`, an empty list, a field we do not model).
 * One level down the same holds: an extra object under a key whose rendered
 * value is an object fills that object's missing keys, so a message that
 * models a nested object (a tool call's `function`) keeps its unknown keys
 * in its own `extra_json` under the nested object's key.
 */
export function mergeExtra<T extends JsonObject>(target: T, extraJson: string): T {
  return mergeExtraObject(target, parseExtra(extraJson));
}

/** A stored `extra_json` as an object; undefined when there is none. */
export function parseExtra(extraJson: string): JsonObject | undefined {
  if (extraJson === "") return undefined;
  const extra: unknown = JSON.parse(extraJson);
  return isObject(extra) ? extra : undefined;
}

/** `mergeExtra` for an `extra_json` already parsed by `parseExtra`. */
export function mergeExtraObject<T extends JsonObject>(target: T, extra: JsonObject | undefined): T {
  if (extra !== undefined) fillMissing(target, extra, true);
  return target;
}

function fillMissing(target: JsonObject, extra: JsonObject, nested: boolean): void {
  for (const key of Object.keys(extra)) {
    const value = extra[key];
    if (!Object.prototype.hasOwnProperty.call(target, key)) setOwn(target, key, value);
    else if (nested && isObject(value) && isObject(target[key])) fillMissing(target[key], value, false);
  }
}

/**
 * Collects the keys of a nested wire object (a tool call's `function`) that
 * are not in `modelled`, for its owner's `extra_json` under the object's own
 * key; `mergeExtra` puts them back. Undefined when there are none.
 */
export function unmodelledKeys(json: JsonObject, modelled: readonly string[]): JsonObject | undefined {
  let out: JsonObject | undefined;
  for (const key of Object.keys(json)) {
    if (modelled.includes(key)) continue;
    out ??= {};
    setOwn(out, key, json[key]);
  }
  return out;
}

/** Parses a JSON-valued proto field (schemas, logprobs, legacy function calls) back into a value. */
export function parseStoredJson(text: string): unknown {
  return JSON.parse(text);
}

/** True when `obj` has no keys beyond `allowed`. */
export function hasOnlyKeys(obj: JsonObject, allowed: readonly string[]): boolean {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) return false;
  }
  return true;
}

/** What `expectAnswer` checks an upstream answer against. */
export interface AnswerKind {
  /** The kind with its article, for messages: "a chat completion". */
  readonly name: string;
  /** Its `object` value, which upstreams may omit: "chat.completion". */
  readonly object: string;
  /** The key of its list of results: "choices" or "data". */
  readonly list: string;
  /** Whether the list may be absent (a usage-only chunk has none). */
  readonly listOptional?: boolean;
  /** What an error body came "instead of", when not `name`. */
  readonly insteadOf?: string;
}

/**
 * The upstream answer `json` as an object of `kind`, or a WireError: when it
 * is not an object, is an OpenAI error body (`{"error":{...}}`, quoted), has
 * another `object`, or its list of results is not an array.
 */
export function expectAnswer(json: unknown, kind: AnswerKind): JsonObject {
  if (!isObject(json)) throw new WireError(`${kind.name.charAt(0).toUpperCase()}${kind.name.slice(1)} must be a JSON object.`);
  rejectErrorBody(json, kind.insteadOf ?? kind.name);
  if (json.object !== undefined && json.object !== kind.object) {
    throw new WireError(`Not ${kind.name}: 'object' is ${JSON.stringify(json.object)}.`, "object");
  }
  const list = json[kind.list];
  if (!Array.isArray(list) && !(kind.listOptional === true && list === undefined)) {
    throw new WireError(`Not ${kind.name}: '${kind.list}' is not an array.`, kind.list);
  }
  return json;
}

function rejectErrorBody(json: JsonObject, what: string): void {
  if (json.error !== undefined && json.error !== null && json.choices === undefined) {
    const detail = isObject(json.error) && typeof json.error.message === "string" ? `: ${json.error.message}` : "";
    throw new WireError(`The upstream sent an error instead of ${what}${detail}`);
  }
}

/**
 * The `index` of a list element, or its `position` when `index` is absent
 * or null (some compatible servers omit it); a WireError if it is not a
 * non-negative integer.
 */
export function indexOrPosition(json: JsonObject, param: string, position: number): bigint {
  return json.index === undefined || json.index === null ? BigInt(position) : expectInteger(json.index, childParam(param, "index"), { min: 0 });
}
