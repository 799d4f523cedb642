import type { MeshConfig } from "./schema.js";

const REFERENCE = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

/**
 * Secrets written literally in a document about to be stored in NATS, where
 * every service and operator could read them: upstream `api_key`s and client
 * `key`s that hold no `${ENV_VAR}` reference. A local file may hold them (a
 * developer's laptop); the shared store should not. Each problem names the
 * path and the fix, never the value.
 */
export function literalSecretProblems(config: MeshConfig): string[] {
  const problems: string[] = [];
  config.providers.forEach((provider, i) => {
    if (provider.api_key !== undefined && !REFERENCE.test(provider.api_key)) {
      problems.push(`providers[${i}].api_key: a literal secret would be stored in NATS; use a \${ENV_VAR} reference`);
    }
  });
  config.keys.forEach((key, i) => {
    if (key.key !== undefined && !REFERENCE.test(key.key)) {
      problems.push(`keys[${i}].key: a literal secret would be stored in NATS; use a \${ENV_VAR} reference or key_sha256`);
    }
  });
  return problems;
}
