/**
 * Without NATS_URL a process follows its YAML file: an edit is validated and
 * swapped in live (whether the editor rewrites the file or renames a new one
 * over it); a broken edit is refused, said so, and the last good revision
 * keeps serving.
 */
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll, spawnService, type WatchedProcess } from "./support/nats.js";

const CONFIG = `
providers:
  - { name: mock, adapter: custom, protocol: mock, options: { delay_ms: 1 } }
models:
  - name: mock
    targets: [{ provider: mock, model: mock-1 }]
`;

describe("all-in-one process following its config file", () => {
  let dir: string;
  let path: string;
  let service: WatchedProcess;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "llmmesh-file-"));
    path = join(dir, "llmmesh.yaml");
    await writeFile(path, CONFIG);
    service = spawnService("packages/launcher/dist/main.js", { NATS_URL: "", LLMMESH_CONFIG: path, PORT: "0", HOST: "127.0.0.1" });
    url = (await service.waitFor(/listening on (http:\/\/\S+)/))[1] as string;
    expect(service.output()).toContain(`watching ${path} for edits`);
  });

  afterAll(async () => {
    await service?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const models = async () => ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

  it("applies an edit written in place", async () => {
    await writeFile(path, `${CONFIG}  - name: edited\n    targets: [{ provider: mock, model: mock-2 }]\n`);
    await poll(async () => ((await models()).includes("edited") ? true : undefined), 10_000, () => `the edit was not applied:\n${service.output()}`);
  });

  it("applies an edit saved by renaming a new file over the old one", async () => {
    await writeFile(join(dir, ".llmmesh.yaml.swp"), `${CONFIG}  - name: renamed\n    targets: [{ provider: mock, model: mock-3 }]\n`);
    await rename(join(dir, ".llmmesh.yaml.swp"), path);
    await poll(async () => ((await models()).includes("renamed") ? true : undefined), 10_000, () => `the edit was not applied:\n${service.output()}`);
    expect(await models()).not.toContain("edited");
  });

  it("refuses a broken edit, names the path, and keeps serving the last good revision", async () => {
    await writeFile(path, `${CONFIG}  - name: broken\n    targets: [{ provider: nowhere, model: x }]\n`);
    await service.waitFor(/config revision refused; still serving the last good one.*models\[1\]\.targets\[0\]\.provider: unknown provider \\"nowhere\\"/);
    expect(await models()).toEqual(["mock", "renamed"]);
  });
});
