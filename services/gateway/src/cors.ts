import type { GatewayRequest, GatewayResponse } from "./http.js";
import type { RequestContext } from "./request-context.js";
import { writeEmpty } from "./response.js";

/** Request headers every preflight allows. */
const BASE_ALLOWED = ["authorization", "content-type", "x-request-id", "x-api-key"];
/**
 * Header families the OpenAI and Anthropic SDKs send from browsers
 * (`openai-organization`, `anthropic-version`, `x-stainless-os`, ...).
 */
const ALLOWED_PREFIXES = ["openai-", "anthropic-", "x-stainless-"];

/**
 * Answers a CORS preflight. CORS has no wildcard for header prefixes, so the
 * headers the browser asks for are checked against the allowed families and
 * the acceptable ones are named back.
 */
export function writePreflight(req: GatewayRequest, res: GatewayResponse, ctx: RequestContext): void {
  const allowed = new Set(BASE_ALLOWED);
  const requested = req.headers["access-control-request-headers"];
  if (typeof requested === "string") {
    for (const raw of requested.split(",")) {
      const name = raw.trim().toLowerCase();
      if (ALLOWED_PREFIXES.some((prefix) => name.startsWith(prefix)) && /^[a-z0-9-]+$/.test(name)) allowed.add(name);
    }
  }
  writeEmpty(res, ctx, 204, {
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": [...allowed].join(", "),
    "access-control-max-age": "86400",
  });
}
