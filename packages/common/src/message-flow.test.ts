import { describe, expect, it } from "vitest";
import { flowMessages, sendEach, type MessageSink } from "./message-flow.js";
import { expandMessages, lazyMessages, mapMessages, PushedMessages, SKIP, startingWith } from "./stream-iterators.js";
import { promisesMadeWhile } from "../../../test/support/promises-made.js";

function producer() {
  const log: string[] = [];
  return { log, hooks: { pause: () => log.push("pause"), resume: () => log.push("resume"), stop: () => log.push("stop") } };
}

/** A sink that writes down what it hears. */
function recordingSink<T>() {
  const heard: string[] = [];
  const sink: MessageSink<T> = {
    value: (value) => heard.push(`value ${String(value)}`),
    end: () => heard.push("end"),
    fail: (err) => heard.push(`fail ${(err as Error).message}`),
  };
  return { sink, heard };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("flowing streams", () => {
  it("hand each pushed value down through map and startingWith at once, with no promise per value", async () => {
    const { hooks } = producer();
    const source = new PushedMessages<number>(hooks);
    const finishes: boolean[] = [];
    const mapped = mapMessages(source, { map: (n) => (n % 2 === 0 ? SKIP : n * 10), finish: (complete) => finishes.push(complete) });
    const sent: number[] = [];
    const sending = sendEach(startingWith(0, mapped), (n) => void sent.push(n));
    expect(sent).toEqual([0]);
    const made = await promisesMadeWhile(() => {
      for (let n = 1; n <= 100; n++) source.push(n);
    });
    // Every odd value arrived before push() returned; the pulled path makes a promise per value and layer.
    expect(sent).toHaveLength(51);
    expect(sent.slice(0, 4)).toEqual([0, 10, 30, 50]);
    expect(made).toBe(0);
    source.end();
    expect(await sending.finished).toBe("ended");
    expect(finishes).toEqual([true]);
  });

  it("hold the source back while a send's promise is pending, pausing its producer at the high-water mark", async () => {
    const { hooks, log } = producer();
    const source = new PushedMessages<number>(hooks, 2);
    let release: (() => void) | undefined;
    const sent: number[] = [];
    const sending = sendEach(source, (n) => {
      sent.push(n);
      if (n === 1) return new Promise<void>((resolve) => (release = resolve));
    });
    source.push(1);
    source.push(2);
    source.push(3);
    expect(sent).toEqual([1]);
    expect(log).toEqual(["pause"]);
    release?.();
    await tick();
    expect(sent).toEqual([1, 2, 3]);
    expect(log).toEqual(["pause", "resume"]);
    source.push(4);
    source.end();
    expect(sent).toEqual([1, 2, 3, 4]);
    expect(await sending.finished).toBe("ended");
  });

  it("end once when the producer, resumed after a pause, pushes and ends at once", () => {
    const resumes: string[] = [];
    const source: PushedMessages<number> = new PushedMessages<number>(
      {
        pause: () => {},
        // A producer with what it held ready: it hands it over and ends inside resume().
        resume: () => {
          resumes.push("resume");
          source.push(3);
          source.end();
        },
        stop: () => {},
      },
      1,
    );
    const { sink, heard } = recordingSink<number>();
    const flow = flowMessages(source, sink);
    source.push(1);
    source.push(2);
    flow.resume();
    expect(resumes).toEqual(["resume"]);
    expect(heard).toEqual(["value 1", "value 2", "value 3", "end"]);
  });

  it("deliver a failure after the values queued before it, through the mapping's error", async () => {
    const { hooks } = producer();
    const source = new PushedMessages<number>(hooks);
    const mapped = mapMessages(source, { error: (err) => new Error(`mapped: ${(err as Error).message}`) });
    const { sink, heard } = recordingSink<number>();
    const flow = flowMessages(mapped, sink);
    source.push(1);
    source.fail(new Error("reset"));
    source.push(2);
    expect(heard).toEqual([]);
    flow.resume();
    expect(heard).toEqual(["value 1", "fail mapped: reset"]);
  });

  it("stop the source and finish as incomplete when the consumer stops, or when send returns false", async () => {
    for (const how of ["stop", "false"] as const) {
      const { hooks, log } = producer();
      const source = new PushedMessages<number>(hooks);
      const finishes: boolean[] = [];
      const sending = sendEach(
        mapMessages(source, { finish: (complete) => finishes.push(complete) }),
        (n) => how === "stop" || n < 2,
      );
      source.push(1);
      if (how === "stop") sending.stop();
      else source.push(2);
      source.push(3);
      expect(await sending.finished).toBe("stopped");
      expect(finishes).toEqual([false]);
      expect(log).toEqual(["stop"]);
    }
  });

  it("fail, and stop the source, when map or send throws", async () => {
    const mapFails = producer();
    const source = new PushedMessages<number>(mapFails.hooks);
    const mapped = mapMessages(source, {
      map: (n) => {
        if (n === 2) throw new Error("bad chunk");
        return n;
      },
    });
    const sent: number[] = [];
    const sending = sendEach(mapped, (n) => void sent.push(n));
    source.push(1);
    source.push(2);
    source.push(3);
    await expect(sending.finished).rejects.toThrow("bad chunk");
    expect(sent).toEqual([1]);
    expect(mapFails.log).toEqual(["stop"]);

    const sendFails = producer();
    const other = new PushedMessages<number>(sendFails.hooks);
    const failing = sendEach(other, () => {
      throw new Error("cannot write");
    });
    other.push(1);
    await expect(failing.finished).rejects.toThrow("cannot write");
    expect(sendFails.log).toEqual(["stop"]);
  });

  it("start a lazy stream on the first resume, fail with its start's failure, and stop what started after a stop", async () => {
    const { hooks, log } = producer();
    const started = new PushedMessages<string>(hooks);
    let starts = 0;
    const lazy = lazyMessages(async () => {
      starts++;
      return started;
    });
    const { sink, heard } = recordingSink<string>();
    const flow = flowMessages(lazy, sink);
    expect(starts).toBe(0);
    flow.resume();
    await tick();
    started.push("a");
    started.end();
    expect(heard).toEqual(["value a", "end"]);

    const failed = recordingSink<string>();
    flowMessages(
      lazyMessages<string>(() => Promise.reject(new Error("no upstream"))),
      failed.sink,
    ).resume();
    await tick();
    expect(failed.heard).toEqual(["fail no upstream"]);

    const late = producer();
    const startedLate = new PushedMessages<string>(late.hooks);
    let startLate: ((stream: PushedMessages<string>) => void) | undefined;
    const stopped = recordingSink<string>();
    const lateFlow = flowMessages(
      lazyMessages(() => new Promise<PushedMessages<string>>((resolve) => (startLate = resolve))),
      stopped.sink,
    );
    lateFlow.resume();
    lateFlow.stop();
    startLate?.(startedLate);
    await tick();
    expect(late.log).toEqual(["stop"]);
    expect(stopped.heard).toEqual([]);
    expect(log).toEqual([]);
  });

  it("give startingWith's first value, and none of the rest's, to a consumer that pauses on it", async () => {
    const { hooks } = producer();
    const rest = new PushedMessages<string>(hooks);
    rest.push("b");
    const heard: string[] = [];
    const flow = flowMessages(startingWith("a", rest), {
      value: (value) => {
        heard.push(value);
        flow.pause();
      },
      end: () => heard.push("end"),
      fail: () => heard.push("fail"),
    });
    flow.resume();
    expect(heard).toEqual(["a"]);
    flow.resume();
    expect(heard).toEqual(["a", "b"]);
    rest.end();
    flow.resume();
    expect(heard).toEqual(["a", "b", "end"]);
  });

  it("give each value's expansion in order, empty ones included, then the end's, with no promise per value", async () => {
    const { hooks } = producer();
    const source = new PushedMessages<number>(hooks);
    const sent: string[] = [];
    const sending = sendEach(
      expandMessages(
        source,
        (n) => Array.from({ length: n }, (_, i) => `${n}.${i}`),
        () => ["end"],
      ),
      (value) => void sent.push(value),
    );
    const made = await promisesMadeWhile(() => {
      for (const n of [2, 0, 1]) source.push(n);
    });
    expect(sent).toEqual(["2.0", "2.1", "1.0"]);
    expect(made).toBe(0);
    source.end();
    expect(await sending.finished).toBe("ended");
    expect(sent).toEqual(["2.0", "2.1", "1.0", "end"]);
  });

  it("hold an expanded stream's source back while the consumer is paused mid-expansion", async () => {
    const { hooks, log } = producer();
    const source = new PushedMessages<number>(hooks, 2);
    const heard: string[] = [];
    const flow = flowMessages(
      expandMessages(
        source,
        (n) => [`${n}a`, `${n}b`],
        () => [],
      ),
      {
        value: (value) => {
          heard.push(value);
          if (value === "1a") flow.pause();
        },
        end: () => heard.push("end"),
        fail: (err) => heard.push(`fail ${(err as Error).message}`),
      },
    );
    flow.resume();
    source.push(1);
    source.push(2);
    source.push(3);
    // 1b waits for the consumer; 2 and 3 wait at the source, which paused its producer.
    expect(heard).toEqual(["1a"]);
    expect(log).toEqual(["pause"]);
    source.end();
    flow.resume();
    expect(heard).toEqual(["1a", "1b", "2a", "2b", "3a", "3b", "end"]);
  });

  it("fail an expanded stream, and stop its source, when expand throws", async () => {
    const { hooks, log } = producer();
    const source = new PushedMessages<number>(hooks);
    const sent: string[] = [];
    const sending = sendEach(
      expandMessages(
        source,
        (n) => {
          if (n === 2) throw new Error("cannot translate");
          return [String(n)];
        },
        () => ["end"],
      ),
      (value) => void sent.push(value),
    );
    source.push(1);
    source.push(2);
    source.push(3);
    await expect(sending.finished).rejects.toThrow("cannot translate");
    expect(sent).toEqual(["1"]);
    expect(log).toEqual(["stop"]);
  });

  it("read any other async iterator by next(), stopping it when left", async () => {
    const seen: string[] = [];
    async function* words() {
      try {
        yield "one";
        yield "two";
        yield "three";
      } finally {
        seen.push("finally");
      }
    }
    const sent: string[] = [];
    const all = sendEach(words(), (word) => void sent.push(word));
    expect(await all.finished).toBe("ended");
    expect(sent).toEqual(["one", "two", "three"]);

    const some = sendEach(words(), (word) => word !== "two");
    expect(await some.finished).toBe("stopped");
    await tick();
    expect(seen).toEqual(["finally", "finally"]);
  });
});
