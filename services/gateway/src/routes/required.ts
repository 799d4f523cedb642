/**
 * A message field the router contract always sets. Its absence is a bug in a
 * peer, answered as a 500 (with the field named in the server log only).
 */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new Error(`router response without \`${field}\``);
  return value;
}
