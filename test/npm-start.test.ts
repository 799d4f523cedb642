/**
 * The README's quick start: `npm start` with the shipped sample config serves
 * the built-in mock model with no API key, says where it listens, which
 * config revision it runs and which models it serves, and drains on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { startProcess, stopProcess, type ServiceProcess } from "./support/mesh.js";

describe("npm start (all-in-one, sample config)", () => {
  let gateway: ServiceProcess;

  beforeAll(async () => {
    gateway = await startProcess("launcher", "packages/launcher/dist/main.js", { PORT: "0", LLMMESH_CONFIG: "", LLMMESH_SERVICES: "" });
  });
  afterAll(async () => {
    if (gateway) await stopProcess(gateway);
  });

  it("prints its address, config revision and models", () => {
    expect(gateway.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(gateway.output()).toMatch(/config config\/llmmesh\.yaml \(revision [0-9a-f]{12}\)/);
    expect(gateway.output()).toMatch(/models: mock, chat-default/);
  });

  it("answers the mock model with no API key, plain and streamed", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "none", maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "Hello mesh" }] });
    expect(answer.choices[0]?.message.content).toContain("Hello mesh");
    expect(answer.usage?.total_tokens).toBeGreaterThan(0);

    let text = "";
    const stream = await client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "Hello mesh" }], stream: true });
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(answer.choices[0]?.message.content);
  });

  it("exits cleanly on SIGTERM", async () => {
    expect(await stopProcess(gateway)).toBe(0);
  });
});
