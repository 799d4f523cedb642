/**
 * Resolves `${ENV_VAR}` references in a config value. Only the process that
 * uses a secret calls this, so secrets never travel in RPCs or documents.
 * A reference to an unset variable is an error naming the variable, never an
 * empty credential.
 */
export function resolveSecret(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, variable: string) => {
    const resolved = env[variable];
    if (resolved === undefined) throw new Error(`environment variable ${variable} is not set`);
    return resolved;
  });
}
