import { resolveSecret, type ConfigSnapshot } from "@llmmesh/common";

/**
 * policy's own check of a config revision: every key written as a
 * `${ENV_VAR}` reference must resolve in this process's environment. A
 * revision naming a variable this replica lacks is refused (and reported),
 * so a key rotation never leaves a team locked out with 401s; the replica
 * keeps the keys it has. Messages name the variable, never a value.
 */
export function checkKeySecrets(snapshot: ConfigSnapshot, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  snapshot.config.keys.forEach((key, i) => {
    if (key.key === undefined) return;
    try {
      if (resolveSecret(key.key, env) === "") problems.push(`keys[${i}].key: resolves to an empty key`);
    } catch (err) {
      problems.push(`keys[${i}].key: ${(err as Error).message}`);
    }
  });
  return problems;
}
