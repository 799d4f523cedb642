import { resolveSecret, type ConfigSnapshot, type KeyConfig } from "@llmmesh/common";

/**
 * The secret of a key written as `key` (literal or `${ENV_VAR}`), or why it
 * is unusable. Problems name the variable, never a value.
 */
export function resolveKeySecret(key: KeyConfig, env: NodeJS.ProcessEnv): { secret: string } | { problem: string } {
  if (key.key === undefined) return { problem: "has no key" };
  try {
    const secret = resolveSecret(key.key, env);
    return secret === "" ? { problem: "resolves to an empty key" } : { secret };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/**
 * policy's own check of a config revision: every key written as a
 * `${ENV_VAR}` reference must resolve in this process's environment. A
 * revision naming a variable this replica lacks is refused (and reported),
 * so a key rotation never leaves a team locked out with 401s; the replica
 * keeps the keys it has.
 */
export function checkKeySecrets(snapshot: ConfigSnapshot, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  snapshot.config.keys.forEach((key, i) => {
    if (key.key === undefined) return;
    const resolved = resolveKeySecret(key, env);
    if ("problem" in resolved) problems.push(`keys[${i}].key: ${resolved.problem}`);
  });
  return problems;
}
