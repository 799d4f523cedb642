import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const execFileAsync = promisify(execFile);
const BOOT = new URL("../dist/boot.js", import.meta.url).href;

/** Allocation that survives, as loading modules is: what makes V8 grow its young generation. */
const SURVIVING_WORK = `
  const kept = [];
  const work = async () => {
    for (let task = 0; task < 400; task++) {
      for (let i = 0; i < 2000; i++) kept.push({ i, text: "value " + i });
      if (kept.length > 200000) kept.length = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
`;

/** Runs a module with `node`, as a service's main runs; its stdout, stderr and exit code. */
async function runModule(source: string, nodeArgs: string[] = []): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [...nodeArgs, "--input-type=module", "-e", source]);
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const failed = err as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe("runMain", () => {
  it("keeps the young generation at its first size while the process starts, and lets V8 grow it once it serves", async () => {
    const { stdout, code } = await runModule(`
      import v8 from "node:v8";
      import { runMain } from ${JSON.stringify(BOOT)};
      ${SURVIVING_WORK}
      const started = new Promise((resolve) => runMain(async () => { await work(); resolve(newSpace()); }));
      const whileStarting = await started;
      await new Promise((resolve) => setTimeout(resolve, 10));
      await work();
      console.log(JSON.stringify({ whileStarting, serving: newSpace() }));
    `);
    expect(code).toBe(0);
    const { whileStarting, serving } = JSON.parse(stdout) as { whileStarting: number; serving: number };
    expect(serving).toBeGreaterThan(whileStarting);
    expect(whileStarting).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it("leaves a young generation sized on node's command line alone", async () => {
    const { stdout } = await runModule(
      `
      import v8 from "node:v8";
      import { runMain } from ${JSON.stringify(BOOT)};
      ${SURVIVING_WORK}
      runMain(async () => { await work(); console.log(newSpace()); });
    `,
      ["--max-semi-space-size=4"],
    );
    expect(Number(stdout)).toBe(8 * 1024 * 1024);
  });

  it("says why a start failed, without a stack, and exits 1", async () => {
    const { stderr, code } = await runModule(`
      import { runMain } from ${JSON.stringify(BOOT)};
      runMain(async () => { throw new Error("port 8080 is taken"); });
    `);
    expect(code).toBe(1);
    expect(stderr).toBe("llmmesh: port 8080 is taken\n");
  });
});
