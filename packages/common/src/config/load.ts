import { documentDigest } from "./config-record.js";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { configSchema, BUILTIN_ADAPTERS, type MeshConfig } from "./schema.js";
import { ConfigSnapshot } from "./snapshot.js";

/** A config document that failed to parse or validate; `problems` name the path of each bad value. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Renders a zod/reference path as `models[0].targets[1].provider`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Checks names are unique and every reference points at something that exists. */
function checkReferences(config: MeshConfig): string[] {
  const problems: string[] = [];
  const providers = new Set<string>();
  config.providers.forEach((p, i) => {
    if (providers.has(p.name)) problems.push(`providers[${i}].name: duplicate provider "${p.name}"`);
    providers.add(p.name);
    const known = (BUILTIN_ADAPTERS as readonly string[]).includes(p.adapter) || p.adapter in config.adapters;
    if (!known) problems.push(`providers[${i}].adapter: unknown adapter "${p.adapter}" (not built in and not under adapters)`);
  });
  const models = new Set<string>();
  config.models.forEach((m, i) => {
    if (models.has(m.name)) problems.push(`models[${i}].name: duplicate model "${m.name}"`);
    models.add(m.name);
    m.targets.forEach((t, j) => {
      if (!providers.has(t.provider)) problems.push(`models[${i}].targets[${j}].provider: unknown provider "${t.provider}"`);
    });
  });
  const keyIds = new Set<string>();
  config.keys.forEach((k, i) => {
    if (keyIds.has(k.id)) problems.push(`keys[${i}].id: duplicate key id "${k.id}"`);
    keyIds.add(k.id);
    k.models?.forEach((m, j) => {
      if (!models.has(m)) problems.push(`keys[${i}].models[${j}]: unknown model "${m}"`);
    });
  });
  return problems;
}

/** Parses and validates a YAML (or JSON) config document into an immutable snapshot. */
export function parseConfig(text: string, source = "(inline)"): ConfigSnapshot {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true }) ?? {};
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : "";
    throw new ConfigError(source, [`YAML${where}: ${(err as Error).message.split("\n")[0]}`]);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue: z.core.$ZodIssue) => `${formatPath(issue.path)}: ${issue.message}`),
    );
  }
  const problems = checkReferences(result.data);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const revision = documentDigest(text);
  return new ConfigSnapshot(result.data, revision, source);
}
