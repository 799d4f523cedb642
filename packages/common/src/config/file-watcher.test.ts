import { mkdtemp, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchFile, type FileWatch } from "./file-watcher.js";

describe("watchFile", () => {
  let dir: string;
  let watch: FileWatch | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "llmmesh-watch-"));
  });
  afterEach(async () => {
    watch?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const next = (seen: string[], count: number) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 5_000;
      const check = () => (seen.length >= count ? resolve() : Date.now() > deadline ? reject(new Error(`saw ${JSON.stringify(seen)}`)) : setTimeout(check, 10));
      check();
    });

  it("reports edits in place and by rename, once each, and not a touch", async () => {
    const path = join(dir, "config.yaml");
    await writeFile(path, "v1");
    const seen: string[] = [];
    watch = watchFile(path, "v1", (text) => seen.push(text), () => {});

    await utimes(path, new Date(), new Date());
    // Past the watcher's settle window, so a report of the touch would be in by now.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(seen).toEqual([]);
    await writeFile(path, "v2");
    await next(seen, 1);
    await writeFile(join(dir, "config.yaml.tmp"), "v3");
    await rename(join(dir, "config.yaml.tmp"), path);
    await next(seen, 2);
    expect(seen).toEqual(["v2", "v3"]);
  });

  it("does not read the file when only another file in its directory changes", async () => {
    // The watched file does not exist yet: a read caused by the sibling would be reported as an error.
    const path = join(dir, "config.yaml");
    const seen: string[] = [];
    const errors: string[] = [];
    watch = watchFile(path, "", (text) => seen.push(text), (err) => errors.push(err.message));

    await writeFile(join(dir, "other.yaml"), "not this one");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(errors).toEqual([]);
    // The watch is live: the file's own creation is reported.
    await writeFile(path, "v1");
    await next(seen, 1);
    expect(seen).toEqual(["v1"]);
    expect(errors).toEqual([]);
  });
});
