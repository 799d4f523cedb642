import { describe, expect, it } from "vitest";
import { parseConfig } from "@llmmesh/common";
import { checkOpenAIProviders } from "./provider-check.js";

const snapshot = parseConfig(`
providers:
  - { name: good, adapter: openai, base_url: "http://up/v1", api_key: "\${GOOD_KEY}", headers: { x-org: "\${ORG}" } }
  - { name: rotated, adapter: openai, base_url: "http://up/v1", api_key: "\${NEW_KEY}" }
  - { name: nowhere, adapter: openai }
  - { name: strange, adapter: openai, base_url: "http://up/v1", protocol: carrier-pigeon }
  - { name: mock, adapter: custom, api_key: "\${NOT_OURS}" }
`);

describe("adapter-openai's check of a config revision", () => {
  it("refuses what it could not serve in this environment, naming the provider and the variable, never a value", () => {
    const problems = checkOpenAIProviders(snapshot, { GOOD_KEY: "sk-secret-value-1", ORG: "org-1" });
    expect(problems).toEqual([
      'providers[1]: provider "rotated" api_key: environment variable NEW_KEY is not set',
      'providers[2]: provider "nowhere" has no base_url',
      'providers[3].protocol: adapter-openai does not speak "carrier-pigeon" (it speaks openai)',
    ]);
    expect(problems.join(" ")).not.toContain("sk-secret");
  });

  it("accepts a revision whose every provider resolves", () => {
    const ok = parseConfig(`providers:\n  - { name: good, adapter: openai, base_url: "http://up/v1", api_key: "\${GOOD_KEY}" }\n`);
    expect(checkOpenAIProviders(ok, { GOOD_KEY: "sk-1" })).toEqual([]);
  });
});
