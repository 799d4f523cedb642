import type { OutgoingHttpHeaders } from "node:http";
import { Header } from "@llmmesh/common";
import type { Served } from "@llmmesh/proto";

/** Anything outside visible ASCII and space would make setHeader throw (or split a header). */
const UNSAFE_HEADER_CHARS = /[^\x20-\x7e]/g;

/** `x-llmmesh-served-by` (provider/model) and `x-llmmesh-attempts` for where the router says a request was served. */
export function servedHeaders(served: Served | undefined): OutgoingHttpHeaders {
  if (!served) return {};
  const headers: OutgoingHttpHeaders = { [Header.ServedBy]: `${served.provider}/${served.model}`.replace(UNSAFE_HEADER_CHARS, "") };
  // 0 means the router did not count (proto default), not "no attempt".
  if (served.attempts > 0) headers[Header.Attempts] = String(served.attempts);
  return headers;
}
