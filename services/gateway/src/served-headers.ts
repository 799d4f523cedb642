import type { OutgoingHttpHeaders } from "node:http";
import { Header } from "@llmmesh/common";
import type { Served } from "@llmmesh/proto";
import type { RequestContext } from "./request-context.js";

/** Anything outside visible ASCII and space would make setHeader throw (or split a header). */
const UNSAFE_HEADER_CHARS = /[^\x20-\x7e]/g;

/**
 * `x-llmmesh-served-by` (provider/model) and `x-llmmesh-attempts` for where
 * the router says a request was served, and `x-llmmesh-overhead-ms`: the
 * time the mesh added, i.e. the time since the request arrived minus the
 * time the serving adapter waited on its upstream. Called when the answer
 * (or a stream's first chunk) is ready to go out, so that is where it ends.
 */
export function servedHeaders(served: Served | undefined, ctx: RequestContext): OutgoingHttpHeaders {
  if (!served) return {};
  const headers: OutgoingHttpHeaders = {
    [Header.ServedBy]: `${served.provider}/${served.model}`.replace(UNSAFE_HEADER_CHARS, ""),
    [Header.OverheadMs]: overheadMs(ctx.startedAt, served.upstreamMs),
  };
  // 0 means the router did not count (proto default), not "no attempt".
  if (served.attempts > 0) headers[Header.Attempts] = String(served.attempts);
  return headers;
}

/** Milliseconds with two decimals: an in-process mesh adds well under one. Never negative. */
function overheadMs(startedAt: number, upstreamMs: number): string {
  return Math.max(0, performance.now() - startedAt - upstreamMs).toFixed(2);
}
