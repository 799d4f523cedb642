import { describe, expect, it } from "vitest";
import { decodeRecord, documentDigest, encodeRecord, newRecord } from "./config-record.js";
import { parseConfig } from "./load.js";
import { literalSecretProblems } from "./stored-secrets.js";

const DOC = "models: []\nproviders: []\n";

describe("config records", () => {
  it("name a document by the same digest a running service reports", () => {
    expect(documentDigest(DOC)).toBe(parseConfig(DOC).revision);
  });

  it("round-trip through the bucket value, readable as JSON", () => {
    const record = newRecord(DOC, { author: "ops@host", note: "why", rollbackOf: 7 });
    const value = encodeRecord(record);
    expect(JSON.parse(new TextDecoder().decode(value))).toMatchObject({ document: DOC, author: "ops@host", note: "why", rollbackOf: "7" });
    const back = decodeRecord(value);
    expect([back.document, back.digest, back.author, back.note, back.rollbackOf]).toEqual([DOC, documentDigest(DOC), "ops@host", "why", 7n]);
  });

  it("take a bare YAML value (put by hand) as the document, and recompute a digest that lies", () => {
    expect(decodeRecord(new TextEncoder().encode(DOC)).document).toBe(DOC);
    const forged = new TextEncoder().encode(JSON.stringify({ document: DOC, digest: "000000000000" }));
    expect(decodeRecord(forged).digest).toBe(documentDigest(DOC));
  });
});

describe("literalSecretProblems", () => {
  it("flags api keys and client keys written literally, never echoing them", () => {
    const snapshot = parseConfig(`
providers:
  - { name: a, adapter: openai, base_url: "http://x/v1", api_key: "sk-literal-123456" }
  - { name: b, adapter: openai, base_url: "http://x/v1", api_key: "\${B_KEY}" }
keys:
  - { id: k1, key: "plain-client-key" }
  - { id: k2, key: "\${K2}" }
  - { id: k3, key_sha256: "${"a".repeat(64)}" }
`);
    const problems = literalSecretProblems(snapshot.config);
    expect(problems).toEqual([
      "providers[0].api_key: a literal secret would be stored in NATS; use a ${ENV_VAR} reference",
      "keys[0].key: a literal secret would be stored in NATS; use a ${ENV_VAR} reference or key_sha256",
    ]);
    expect(problems.join(" ")).not.toContain("sk-literal");
  });
});
