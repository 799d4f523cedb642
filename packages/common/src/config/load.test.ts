import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./load.js";
import { resolveSecret } from "./secrets.js";

const VALID = `
providers:
  - { name: up, adapter: openai, base_url: "http://127.0.0.1:9/v1", api_key: "\${UP_KEY}" }
models:
  - { name: chat, targets: [{ provider: up, model: gpt-4o-mini }] }
keys:
  - { id: a, key: "\${TEAM_KEY}", models: [chat] }
`;

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, "test.yaml");
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("config was accepted");
}

describe("parseConfig", () => {
  it("applies defaults and indexes the document", () => {
    const snapshot = parseConfig(VALID);
    expect(snapshot.models.get("chat")?.routing).toEqual({ strategy: "priority", retries: 2, timeout_ms: 60_000, backoff_ms: 100 });
    expect(snapshot.providers.get("up")?.api_key).toBe("${UP_KEY}");
    expect(snapshot.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(Object.isFrozen(snapshot.config.models[0])).toBe(true);
  });

  it.each([
    ["an unknown key", VALID.replace("base_url:", "baseurl:"), /^providers\[0\]: Unrecognized key.*baseurl/],
    ["a target's unknown provider", VALID.replace("provider: up", "provider: nope"), /^models\[0\]\.targets\[0\]\.provider: unknown provider "nope"/],
    ["a key's unknown model", VALID.replace("models: [chat]", "models: [chat, other]"), /^keys\[0\]\.models\[1\]: unknown model "other"/],
    ["an unknown adapter", VALID.replace("adapter: openai", "adapter: nowhere"), /^providers\[0\]\.adapter: unknown adapter "nowhere"/],
    ["a bad URL", VALID.replace('"http://127.0.0.1:9/v1"', "not-a-url"), /^providers\[0\]\.base_url: /],
    ["a model with no targets", VALID.replace("targets: [{ provider: up, model: gpt-4o-mini }]", "targets: []"), /^models\[0\]\.targets: /],
    ["a key with neither key nor hash", VALID.replace('key: "${TEAM_KEY}", ', ""), /^keys\[0\]: exactly one of key and key_sha256/],
    ["duplicate models", VALID.replace("keys:", "  - { name: chat, targets: [{ provider: up, model: x }] }\nkeys:"), /^models\[1\]\.name: duplicate model "chat"/],
    ["broken YAML", "models: [", /^YAML at line \d+/],
  ])("names the path of %s", (_what, yaml, expected) => {
    const problems = problemsOf(yaml);
    expect(problems.some((p) => expected.test(p)), problems.join("\n")).toBe(true);
  });

  it("gives the same revision to the same document", () => {
    expect(parseConfig(VALID).revision).toBe(parseConfig(VALID).revision);
    expect(parseConfig(VALID).revision).not.toBe(parseConfig(VALID + "\n# changed\n").revision);
  });
});

describe("resolveSecret", () => {
  it("replaces references with the environment's values", () => {
    expect(resolveSecret("Bearer ${A}-${B}", { A: "x", B: "y" })).toBe("Bearer x-y");
    expect(resolveSecret("literal", {})).toBe("literal");
  });

  it("refuses an unset variable, naming it, instead of sending an empty credential", () => {
    expect(() => resolveSecret("${MISSING_VAR}", {})).toThrow("environment variable MISSING_VAR is not set");
  });
});
