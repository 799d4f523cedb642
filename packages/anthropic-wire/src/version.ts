/**
 * The `anthropic-version` request header. Anthropic requires it and pins the
 * API's shape to it; the gateway does the same for the versions it knows,
 * and refuses the rest rather than guess what a client expects.
 */
import { WireError } from "@llmmesh/openai-wire";

/** The versions this gateway speaks. `2023-01-01` (the pre-Messages format) is not one of them. */
export const API_VERSIONS = ["2023-06-01", "2026-10-21"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** The header's name. */
export const VERSION_HEADER = "anthropic-version";

/** The header value as a known version, or a WireError naming the header. */
export function apiVersionFromHeader(value: string | string[] | undefined): ApiVersion {
  if (value === undefined || value === "") throw new WireError(`${VERSION_HEADER}: header is required`, VERSION_HEADER);
  const text = Array.isArray(value) ? value.join(",") : value;
  const known = API_VERSIONS.find((version) => version === text.trim());
  if (known === undefined) {
    throw new WireError(
      `${VERSION_HEADER}: ${JSON.stringify(text.slice(0, 40))} is not a supported version (supported: ${API_VERSIONS.join(", ")})`,
      VERSION_HEADER,
    );
  }
  return known;
}

/**
 * Whether `version` still accepts what 2026-10-21 removed: the sampling
 * parameters (`temperature`, `top_p`, `top_k`) and `citations` on the text
 * blocks of user messages.
 */
export function acceptsRemovedInputs(version: ApiVersion): boolean {
  return version === "2023-06-01";
}
