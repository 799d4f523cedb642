// The requests every target receives, byte for byte the same, so that the
// only difference between two rows of the report is the path in between.

/** Upstream model for non-streamed requests (the mock answers at once). */
export const MODEL = "bench-upstream";
/** Upstream model for the streamed latency test (a few quick chunks). */
export const STREAM_MODEL = "bench-stream";
/** Upstream model for `--streams` (slow streams that stay open for seconds). */
export const SLOW_MODEL = "bench-slow";

const SYSTEM_PROMPT =
  "You are a careful assistant for an engineering team. Answer in plain English, keep answers short, " +
  "cite the file and line you rely on when you talk about code, and say so plainly when you do not know. " +
  "Prefer concrete steps over general advice. When asked for a command, give one that can be pasted as it is, " +
  "and explain any flag that is not obvious. Never invent an API: if a function may not exist, say how to check. " +
  "Keep the tone friendly and direct; the reader is busy and reads on a phone between meetings.";

const USER_PROMPT =
  "Our Node service answers most requests in a few milliseconds, but once an hour the p99 latency jumps to " +
  "two seconds for about a minute. Memory stays flat, CPU is below forty percent, and the upstream it calls " +
  "reports no slow answers at that time. What are the three most likely causes, and how do we confirm each?";

/**
 * The JSON body of a chat completion request (~1 KB), as an OpenAI SDK would
 * send it.
 * @param {string} model
 * @param {{ stream?: boolean }} [options]
 * @returns {string}
 */
export function chatRequestBody(model, options = {}) {
  /** @type {Record<string, unknown>} */
  const body = {
    model,
    messages: [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: USER_PROMPT },
    ],
    temperature: 0.2,
    max_tokens: 256,
    user: "bench-user-0001",
  };
  if (options.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return JSON.stringify(body);
}

/** Text of each content chunk the mock streams; the non-streamed answer is the same words joined. */
export const ANSWER_WORDS = ["Likely ", "causes: ", "GC ", "pauses, ", "DNS ", "lookups ", "and ", "a ", "cron ", "job."];

/** The non-streamed answer's text. */
export const ANSWER_TEXT = ANSWER_WORDS.join("");
