/**
 * Reads a wire object into a proto message key by key, by a table of
 * readers: each modelled key has one, and every other key is kept verbatim
 * in the message's `extraJson`, so unknown fields survive a round trip. A
 * mapper is then just its table, a list of rules.
 */
import { childParam, ExtraFields, type JsonObject } from "./guards.js";

/** A proto message that keeps the fields it does not model as a JSON object string. */
export interface WithExtraJson {
  extraJson: string;
}

/** Returned by a reader to keep the key's value in `extraJson` instead of modelling it. */
export const KEEP: unique symbol = Symbol("keep in extraJson");

/**
 * Reads one key's value into `message`, or returns KEEP. `param` names the
 * key for errors (e.g. "choices[0].index"); a reader throws WireError on a
 * value it cannot take.
 */
export type FieldReader<M> = (message: M, value: unknown, param: string) => void | typeof KEEP;

/** The readers of one kind of wire object, by key. */
export type FieldReaders<M> = Readonly<Record<string, FieldReader<M>>>;

/**
 * Reads every key of `json` into `message` (in the object's key order, so
 * the first invalid field is the one reported) and stores the keys without
 * a reader, or whose reader returned KEEP, in `message.extraJson`.
 * `param` is the object's own path ("" at the top level).
 */
export function readFields<M extends WithExtraJson>(json: JsonObject, message: M, readers: FieldReaders<NoInfer<M>>, param = ""): M {
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const value = json[key];
    // Own keys only: a wire key such as "toString" must not find Object.prototype's.
    const read = Object.hasOwn(readers, key) ? readers[key] : undefined;
    if (read === undefined || read(message, value, childParam(param, key)) === KEEP) extra.set(key, value);
  }
  message.extraJson = extra.toJson();
  return message;
}

/**
 * Wraps a reader so that an explicit `null` is kept in `extraJson`: the
 * proto cannot say "null" for the field, and the renderer must send it back
 * as the upstream did.
 */
export function nullKept<M>(read: FieldReader<M>): FieldReader<M> {
  return (message, value, param) => (value === null ? KEEP : read(message, value, param));
}

/**
 * Wraps a reader so that an explicit `null` is dropped: for fields the
 * renderer always writes, as `null` when unset.
 */
export function nullSkipped<M>(read: FieldReader<M>): FieldReader<M> {
  return (message, value, param) => (value === null ? undefined : read(message, value, param));
}

/** The reader of a key that is never stored, such as `object`: the renderer writes its one possible value. */
export function ignored(): void {}
