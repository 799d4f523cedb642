/**
 * How long an upstream asks us to wait, in milliseconds, from its
 * `retry-after-ms` header (OpenAI's, fractional milliseconds) or the standard
 * `retry-after` (seconds, or an HTTP date). Undefined when absent or unusable.
 */
export function retryAfterMs(headers: Readonly<Record<string, string | string[] | undefined>>, now = Date.now()): number | undefined {
  const msText = first(headers["retry-after-ms"])?.trim();
  if (msText) {
    const ms = Number(msText);
    if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  }
  const value = first(headers["retry-after"])?.trim();
  if (value === undefined || value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
