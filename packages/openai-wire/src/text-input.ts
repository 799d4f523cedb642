/**
 * The "text or tokens" input OpenAI accepts in two places — embeddings'
 * `input` and completions' `prompt` — both directions: a string, a list of
 * strings, one list of token ids, or a list of token-id lists.
 */
import { create } from "@bufbuild/protobuf";
import { StringListSchema, TokenListSchema, TokenListsSchema, type EmbedRequest, type TokenList } from "@llmmesh/proto";
import { WireError } from "./errors.js";
import { childParam, expectArray, expectInteger, expectString, int64ToNumber } from "./guards.js";

/** The proto oneof both requests use (`EmbedRequest.input`, `CompletionRequest.prompt`). */
export type TextInput = EmbedRequest["input"];

/** The JSON forms of a text input. */
export type TextInputJson = string | string[] | number[] | number[][];

/**
 * Parses a text input named `param`. An empty array is refused: its kind
 * (strings or tokens) cannot be told, and no upstream accepts it.
 */
export function textInputFromJson(v: unknown, param: string): TextInput {
  if (typeof v === "string") return { case: "text", value: v };
  const list = expectArray(v, param);
  if (list.length === 0) throw new WireError(`Invalid '${param}': expected a non-empty array.`, param);
  const first = list[0];
  if (typeof first === "string") {
    const values = list.map((s, i) => expectString(s, childParam(param, i)));
    return { case: "texts", value: create(StringListSchema, { values }) };
  }
  if (typeof first === "number") {
    return { case: "tokens", value: tokenList(list, param) };
  }
  if (Array.isArray(first)) {
    const lists = list.map((l, i) => tokenList(expectArray(l, childParam(param, i)), childParam(param, i)));
    return { case: "tokenLists", value: create(TokenListsSchema, { lists }) };
  }
  const at = childParam(param, 0);
  throw new WireError(`Invalid '${at}': expected a string, a token id or an array of token ids.`, at);
}

function tokenList(list: readonly unknown[], param: string): TokenList {
  const tokens = list.map((t, i) => expectInteger(t, childParam(param, i), { min: 0 }));
  return create(TokenListSchema, { tokens });
}

/** Renders a text input as the client sent it; an unset one as an empty list. */
export function textInputToJson(input: TextInput): TextInputJson {
  switch (input.case) {
    case "text":
      return input.value;
    case "texts":
      return [...input.value.values];
    case "tokens":
      return input.value.tokens.map(int64ToNumber);
    case "tokenLists":
      return input.value.lists.map((l) => l.tokens.map(int64ToNumber));
    default:
      return [];
  }
}
