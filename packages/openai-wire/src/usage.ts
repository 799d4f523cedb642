/**
 * `usage` objects ⇄ `Usage`. The totals are modelled; everything else (the
 * `*_tokens_details` objects, provider-specific counters) is kept verbatim in
 * `Usage.extraJson`, while the cached and reasoning counts are also lifted
 * into `cachedTokens` / `reasoningTokens` for accounting.
 */
import { create } from "@bufbuild/protobuf";
import { UsageSchema, type Usage } from "@llmmesh/proto";
import { childParam, expectInteger, expectObject, ExtraFields, int64ToNumber, isObject, mergeExtra } from "./guards.js";
import type { UsageJson } from "./types.js";

/**
 * Which endpoint the usage belongs to: embeddings report no
 * `completion_tokens`, so there it is not modelled (and kept in extra if an
 * upstream sends it anyway).
 */
export type UsageKind = "chat" | "embeddings";

/** Parses an upstream `usage` object; counts must be integers (null counts as 0). */
export function usageFromJson(value: unknown, param: string, kind: UsageKind): Usage {
  const json = expectObject(value, param);
  const usage = create(UsageSchema);
  const extra = new ExtraFields();
  for (const key of Object.keys(json)) {
    const v = json[key];
    switch (key) {
      case "prompt_tokens":
        usage.promptTokens = count(v, childParam(param, key));
        break;
      case "total_tokens":
        usage.totalTokens = count(v, childParam(param, key));
        break;
      case "completion_tokens":
        if (kind === "chat") usage.completionTokens = count(v, childParam(param, key));
        else extra.set(key, v);
        break;
      default:
        extra.set(key, v);
    }
  }
  usage.cachedTokens = detail(json.prompt_tokens_details, "cached_tokens");
  usage.reasoningTokens = detail(json.completion_tokens_details, "reasoning_tokens");
  usage.extraJson = extra.toJson();
  return usage;
}

function count(v: unknown, param: string): bigint {
  return v === null ? 0n : expectInteger(v, param);
}

/** A count inside a details object; absent or malformed counts are 0 (the object itself is kept anyway). */
function detail(details: unknown, key: string): bigint {
  if (!isObject(details)) return 0n;
  const v = details[key];
  return typeof v === "number" && Number.isInteger(v) ? BigInt(v) : 0n;
}

/**
 * Renders a `usage` object. When `extraJson` has no details objects (usage
 * from a non-OpenAI adapter) but cached or reasoning counts are known, the
 * details are synthesised so clients still see them.
 */
export function usageToJson(usage: Usage, kind: UsageKind): UsageJson {
  const out: UsageJson =
    kind === "chat"
      ? {
          prompt_tokens: int64ToNumber(usage.promptTokens),
          completion_tokens: int64ToNumber(usage.completionTokens),
          total_tokens: int64ToNumber(usage.totalTokens),
        }
      : { prompt_tokens: int64ToNumber(usage.promptTokens), total_tokens: int64ToNumber(usage.totalTokens) };
  mergeExtra(out, usage.extraJson);
  if (kind === "chat") {
    if (usage.cachedTokens > 0n && out.prompt_tokens_details === undefined) {
      out.prompt_tokens_details = { cached_tokens: int64ToNumber(usage.cachedTokens) };
    }
    if (usage.reasoningTokens > 0n && out.completion_tokens_details === undefined) {
      out.completion_tokens_details = { reasoning_tokens: int64ToNumber(usage.reasoningTokens) };
    }
  }
  return out;
}
