import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";

/** Editors write in bursts (truncate, write, rename): wait this long after the last event before reading. */
const SETTLE_MS = 100;

/** A running file watch. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange(text)` with the file's content after each edit that
 * changes it (`initial` is the content already in use). Watches
 * the directory rather than the file, so editors that save by writing a new
 * file and renaming it over the old one (vim, most IDEs) are seen too; and
 * reads only after events settle, so a half-written file is never offered.
 * A file that cannot be read (mid-rename, deleted) is reported through
 * `onError` and the watch goes on.
 */
export function watchFile(path: string, initial: string, onChange: (text: string) => void, onError: (err: Error) => void): FileWatch {
  const absolute = resolve(path);
  const name = basename(absolute);
  let timer: NodeJS.Timeout | undefined;
  // The content already applied is the baseline: only later edits are reported.
  let last = initial;
  const read = () => {
    timer = undefined;
    readFile(absolute, "utf8").then(
      (text) => {
        // Touching a file (or an editor's double write) is not an edit.
        if (text === last) return;
        last = text;
        onChange(text);
      },
      (err: unknown) => onError(err instanceof Error ? err : new Error(String(err))),
    );
  };
  const watcher: FSWatcher = watch(dirname(absolute), { persistent: false }, (_event, filename) => {
    if (filename !== null && filename !== name) return;
    clearTimeout(timer);
    timer = setTimeout(read, SETTLE_MS);
  });
  watcher.on("error", (err) => onError(err));
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
