import { describe, expect, it } from "vitest";
import { isCollectable } from "../../../test/support/collectable.js";
import { expandMessages, lazyMessages, mapMessages, PushedMessages, SKIP, startingWith } from "./stream-iterators.js";

/** A source that records how it was stopped. */
function recordingSource<T>(values: T[], failure?: Error) {
  const log: string[] = [];
  let index = 0;
  const source: AsyncIterator<T> = {
    next() {
      if (index < values.length) return Promise.resolve({ done: false, value: values[index++] as T });
      if (failure) return Promise.reject(failure);
      return Promise.resolve({ done: true, value: undefined });
    },
    return() {
      log.push("return");
      return Promise.resolve({ done: true, value: undefined });
    },
    throw(err: unknown) {
      log.push(`throw ${(err as Error).message}`);
      return Promise.reject(err);
    },
  };
  return { source, log };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe("mapMessages", () => {
  it("maps values, drops SKIP, and finishes once as complete at the source's end", async () => {
    const { source, log } = recordingSource([1, 2, 3, 4]);
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, { map: (n) => (n % 2 === 0 ? SKIP : n * 10), finish: (complete) => finishes.push(complete) });
    expect(await collect(mapped)).toEqual([10, 30]);
    expect(await mapped.next()).toEqual({ done: true, value: undefined });
    expect(finishes).toEqual([true]);
    expect(log).toEqual([]);
  });

  it("stops the source and finishes once as incomplete when the consumer leaves early", async () => {
    const { source, log } = recordingSource(["a", "b", "c"]);
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, { finish: (complete) => finishes.push(complete) });
    for await (const value of mapped) {
      if (value === "a") break;
    }
    await mapped.return();
    expect(await mapped.next()).toEqual({ done: true, value: undefined });
    expect(finishes).toEqual([false]);
    expect(log).toEqual(["return"]);
  });

  it("passes throw() on to the source and rejects with the error", async () => {
    const { source, log } = recordingSource([1]);
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, { finish: (complete) => finishes.push(complete) });
    await expect(mapped.throw(new Error("stop"))).rejects.toThrow("stop");
    expect(log).toEqual(["throw stop"]);
    expect(finishes).toEqual([false]);
  });

  it("delivers the source's failure through `error`, after the values before it", async () => {
    const { source } = recordingSource([1, 2], new Error("lost"));
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, { error: (err) => new Error(`mapped: ${(err as Error).message}`), finish: (complete) => finishes.push(complete) });
    expect(await mapped.next()).toEqual({ done: false, value: 1 });
    expect(await mapped.next()).toEqual({ done: false, value: 2 });
    await expect(mapped.next()).rejects.toThrow("mapped: lost");
    expect(finishes).toEqual([false]);
  });

  it("fails the stream and stops the source when `map` throws", async () => {
    const { source, log } = recordingSource([1, 2]);
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, {
      map: () => {
        throw new Error("bad value");
      },
      finish: (complete) => finishes.push(complete),
    });
    await expect(mapped.next()).rejects.toThrow("bad value");
    expect(log).toEqual(["return"]);
    expect(finishes).toEqual([false]);
  });

  it("fails a complete stream with what `finish` throws", async () => {
    const { source } = recordingSource([1]);
    const mapped = mapMessages(source, {
      finish: (complete) => {
        if (complete) throw new Error("cancelled after all");
      },
    });
    await expect(collect(mapped)).rejects.toThrow("cancelled after all");
  });
});

describe("expandMessages", () => {
  it("gives each value's expansion in order, empty ones included, then the end's", async () => {
    const { source } = recordingSource([2, 0, 1]);
    const expanded = expandMessages(
      source,
      (n) => Array.from({ length: n }, (_, i) => `${n}.${i}`),
      () => ["end"],
    );
    expect(await collect(expanded)).toEqual(["2.0", "2.1", "1.0", "end"]);
  });

  it("stops the source when the consumer leaves mid-expansion, and skips the end", async () => {
    const { source, log } = recordingSource([2, 2]);
    let ends = 0;
    const expanded = expandMessages(
      source,
      (n) => [n, n],
      () => [ends++],
    );
    expect(await expanded.next()).toEqual({ done: false, value: 2 });
    await expanded.return();
    expect(await expanded.next()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["return"]);
    expect(ends).toBe(0);
  });

  it("fails with the source's error, and with `expand`'s after stopping the source", async () => {
    const failing = recordingSource([1], new Error("lost"));
    const expanded = expandMessages(failing.source, (n) => [n], () => []);
    expect(await expanded.next()).toEqual({ done: false, value: 1 });
    await expect(expanded.next()).rejects.toThrow("lost");

    const { source, log } = recordingSource([1, 2]);
    const broken = expandMessages(
      source,
      () => {
        throw new Error("cannot translate");
      },
      () => [],
    );
    await expect(broken.next()).rejects.toThrow("cannot translate");
    expect(log).toEqual(["return"]);
  });
});

describe("startingWith", () => {
  it("gives the first value, then the rest's, and stops the rest when left", async () => {
    const { source, log } = recordingSource([2, 3]);
    const all = startingWith(1, source);
    expect(await all.next()).toEqual({ done: false, value: 1 });
    expect(await all.next()).toEqual({ done: false, value: 2 });
    await all.return();
    expect(log).toEqual(["return"]);
  });
});

describe("lazyMessages", () => {
  it("lets go of what its start function holds once it has started", async () => {
    // A handler's start function closes over its request, which may be a whole conversation.
    const { lazy, held } = (() => {
      const request = { text: "x".repeat(64 * 1024) };
      const started = lazyMessages(async () => recordingSource([request.text.length]).source);
      return { lazy: started, held: new WeakRef(request) };
    })();
    expect(await lazy.next()).toEqual({ done: false, value: 64 * 1024 });
    expect(await isCollectable(held)).toBe(true);
    expect(await lazy.next()).toEqual({ done: true, value: undefined });
  });

  it("starts on the first next(), not before", async () => {
    let starts = 0;
    const lazy = lazyMessages(async () => {
      starts++;
      return recordingSource(["x"]).source;
    });
    expect(starts).toBe(0);
    expect(await collect(lazy)).toEqual(["x"]);
    expect(starts).toBe(1);
  });

  it("fails the first next() when starting throws, even synchronously, then ends", async () => {
    const lazy = lazyMessages(() => {
      throw new Error("bad request");
    });
    await expect(lazy.next()).rejects.toThrow("bad request");
    expect(await lazy.next()).toEqual({ done: true, value: undefined });
  });

  it("stops what it started when the consumer leaves", async () => {
    const { source, log } = recordingSource([1, 2]);
    const lazy = lazyMessages(async () => source);
    expect(await lazy.next()).toEqual({ done: false, value: 1 });
    await lazy.return();
    expect(log).toEqual(["return"]);
  });
});

describe("PushedMessages", () => {
  function producer() {
    const log: string[] = [];
    return { log, hooks: { pause: () => log.push("pause"), resume: () => log.push("resume"), stop: () => log.push("stop") } };
  }

  it("hands pushed values to a waiting consumer and queued ones in order, then ends", async () => {
    const { hooks, log } = producer();
    const messages = new PushedMessages<number>(hooks);
    const waiting = messages.next();
    messages.push(1);
    messages.push(2);
    messages.push(3);
    messages.end();
    expect(await waiting).toEqual({ done: false, value: 1 });
    expect(await collect(messages)).toEqual([2, 3]);
    expect(log).toEqual([]);
  });

  it("pauses the producer at the high-water mark and resumes it once the queue is empty", async () => {
    const { hooks, log } = producer();
    const messages = new PushedMessages<number>(hooks, 2);
    messages.push(1);
    expect(log).toEqual([]);
    messages.push(2);
    expect(log).toEqual(["pause"]);
    expect(await messages.next()).toEqual({ done: false, value: 1 });
    expect(log).toEqual(["pause"]);
    expect(await messages.next()).toEqual({ done: false, value: 2 });
    expect(log).toEqual(["pause", "resume"]);
  });

  it("delivers a failure after the queued values, once", async () => {
    const { hooks } = producer();
    const messages = new PushedMessages<number>(hooks);
    messages.push(1);
    messages.fail(new Error("reset"));
    messages.push(2);
    expect(await messages.next()).toEqual({ done: false, value: 1 });
    await expect(messages.next()).rejects.toThrow("reset");
    expect(await messages.next()).toEqual({ done: true, value: undefined });
  });

  it("rejects a waiting consumer when the producer fails", async () => {
    const { hooks } = producer();
    const messages = new PushedMessages<number>(hooks);
    const waiting = messages.next();
    messages.fail(new Error("lost"));
    await expect(waiting).rejects.toThrow("lost");
  });

  it("stops the producer once when the consumer leaves early, and not after the end", async () => {
    const { hooks, log } = producer();
    const left = new PushedMessages<number>(hooks);
    const waiting = left.next();
    await left.return();
    await left.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["stop"]);

    const ended = producer();
    const finished = new PushedMessages<number>(ended.hooks);
    finished.end();
    await finished.return();
    expect(ended.log).toEqual([]);
  });
});
