/**
 * Keys and limits as a client sees them, in both deployments: the router
 * admits most requests on leases from policy, and a client must not be able
 * to tell. A key's RPM limit admits its number of requests (and what the
 * bucket refilled meanwhile), the next one is a 429 with Retry-After, and a key removed from the config is refused
 * once the edit is applied, whatever the router held for it.
 */
import { writeFile } from "node:fs/promises";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS, startMesh, type Deployment, type Mesh } from "./support/mesh.js";

const LIMITED_KEY = "sk-admission-limited-0123456789";
const FREE_KEY = "sk-admission-free-0123456789";
const ENV = { ADMISSION_LIMITED_KEY: LIMITED_KEY, ADMISSION_FREE_KEY: FREE_KEY };
/** A lease holds a twentieth of it: five requests. */
const RPM = 100;

const config = (keys: string) => `
providers:
  - { name: mock, adapter: custom, protocol: mock, options: { delay_ms: 0 } }
models:
  - name: mock
    targets: [{ provider: mock, model: mock-1 }]
keys:
${keys}`;
const BOTH_KEYS = `  - { id: limited, key: "\${ADMISSION_LIMITED_KEY}", limits: { rpm: ${RPM} } }
  - { id: free, key: "\${ADMISSION_FREE_KEY}" }
`;

const ask = (client: OpenAI) => client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] });

describe.each(DEPLOYMENTS)("admission (%s)", (_mode, start) => {
  let deployment: Deployment;
  beforeAll(async () => {
    Object.assign(process.env, ENV);
    deployment = await start(config(BOTH_KEYS), ENV);
  });
  afterAll(async () => {
    await deployment?.stop();
  });

  it("admits a key's requests up to its RPM limit, then answers 429 with Retry-After; another key is unaffected", async () => {
    const limited = new OpenAI({ baseURL: `${deployment.url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
    const free = new OpenAI({ baseURL: `${deployment.url}/v1`, apiKey: FREE_KEY, maxRetries: 0 });
    const started = Date.now();
    let admitted = 0;
    let refused: unknown;
    const attempt = () =>
      ask(limited).then(
        () => void admitted++,
        (err: unknown) => err,
      );
    while (refused === undefined && admitted <= 2 * RPM) {
      refused = await attempt();
      // A refusal must stand: capacity a lease gave back a moment ago (its return is batched
      // for up to 50 ms) would admit the next request, and would not be a limit reached.
      if (refused !== undefined) refused = await new Promise((resolve) => setTimeout(resolve, 200)).then(attempt);
    }
    // The bucket refills continuously (RPM / 60 a second): what it gained meanwhile may be admitted too.
    const refilled = Math.ceil(((Date.now() - started) / 60_000) * RPM);
    expect(admitted).toBeGreaterThanOrEqual(RPM);
    expect(admitted).toBeLessThanOrEqual(RPM + refilled);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.message).toContain(`Rate limit reached for requests per minute (RPM) on key 'limited': limit ${RPM}.`);
    expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await expect(ask(free)).resolves.toBeDefined();
  });
});

describe("admission (mesh of separate processes, config edited live)", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh(config(BOTH_KEYS), ENV);
  });
  afterAll(async () => {
    await mesh?.stop();
  });

  it("refuses a removed key once the edit is applied, though the router held a lease for it", async () => {
    const free = new OpenAI({ baseURL: `${mesh.gateway.url}/v1`, apiKey: FREE_KEY, maxRetries: 0 });
    // Enough requests for the router to hold a lease for the key.
    for (let i = 0; i < 5; i++) await ask(free);
    await writeFile(mesh.configPath, config(`  - { id: limited, key: "\${ADMISSION_LIMITED_KEY}", limits: { rpm: ${RPM} } }\n`));
    // Every process follows the file; the router drops its lease with the revision it was granted on.
    await expect.poll(async () => ask(free).then(() => "admitted", (err: unknown) => (err instanceof OpenAI.AuthenticationError ? "refused" : String(err))), { timeout: 10_000 }).toBe("refused");
    for (let i = 0; i < 5; i++) await expect(ask(free)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
