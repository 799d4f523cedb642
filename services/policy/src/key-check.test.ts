import { describe, expect, it } from "vitest";
import { parseConfig } from "@llmmesh/common";
import { checkKeySecrets } from "./key-check.js";

const config = parseConfig(`
models: []
keys:
  - { id: a, key: "\${TEAM_A_KEY}" }
  - { id: b, key: "sk-literal-key-0001" }
  - { id: c, key_sha256: "${"ab".repeat(32)}" }
  - { id: d, key: "\${EMPTY_KEY}" }
`);

describe("checkKeySecrets", () => {
  it("accepts a revision whose key references all resolve", () => {
    expect(checkKeySecrets(config, { TEAM_A_KEY: "sk-a-123456", EMPTY_KEY: "sk-d-123456" })).toEqual([]);
  });

  it("names each key whose variable is unset or empty, and never a value", () => {
    const problems = checkKeySecrets(config, { EMPTY_KEY: "" });
    expect(problems).toEqual(["keys[0].key: environment variable TEAM_A_KEY is not set", "keys[3].key: resolves to an empty key"]);
    expect(problems.join(" ")).not.toContain("sk-literal");
  });
});
