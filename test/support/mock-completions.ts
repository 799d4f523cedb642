/**
 * The mock upstream's `POST /v1/completions` (legacy text completions), in
 * OpenAI's wire format: plain JSON or SSE (`stream: true`, `data: [DONE]`),
 * `n` alternatives per prompt, several prompts, token prompts, `echo`,
 * `max_tokens` (default 16, as OpenAI's), `logprobs`, and the usage chunk
 * only when `stream_options.include_usage` asks for it.
 *
 * Answers are deterministic functions of the request (`mockCompletionText`),
 * so tests can compute what they expect; only `id` and `created` vary.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";

/** OpenAI's default `max_tokens` for text completions. */
const DEFAULT_MAX_TOKENS = 16;
const SYSTEM_FINGERPRINT = "fp_mockcmpl01";

let sequence = 0;

/** The text a prompt reads as: itself, or its token ids joined with spaces. */
export function promptText(prompt: string | readonly number[]): string {
  return typeof prompt === "string" ? prompt : prompt.join(" ");
}

/** What the mock continues a prompt with, before `max_tokens` cuts it; alternative `choice` of `n`. */
export function mockCompletionText(prompt: string | readonly number[], choice: number): string {
  const text = promptText(prompt);
  const words = text.match(/\S+/g) ?? [];
  const subject = words.length === 0 ? "silence" : words[words.length - 1];
  return ` and the mock went on about ${subject} (take ${choice + 1}).`;
}

/** Answers one `/v1/completions` request on `res`. */
export function serveCompletions(res: ServerResponse, body: unknown): void {
  if (!isRecord(body)) return json(res, 400, invalid("We could not parse the JSON body of your request.", null));
  if (typeof body.model !== "string" || body.model === "") return json(res, 400, invalid("you must provide a model parameter", null));
  const prompts = promptsOf(body.prompt);
  if (prompts === undefined) {
    return json(res, 400, invalid("'prompt' must be a string, an array of strings, an array of tokens or an array of token arrays.", "prompt"));
  }
  const stream = body.stream === true;
  if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
    return json(res, 400, invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"));
  }
  const answer = completionAnswer(body, prompts);
  if (!stream) return json(res, 200, answer.whole());
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  for (const chunk of answer.chunks(includeUsage)) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  res.end("data: [DONE]\n\n");
}

interface Alternative {
  index: number;
  /** The generated text, the echoed prompt not included. */
  generated: string;
  echoed: string;
  finishReason: "stop" | "length";
}

/** The deterministic answer to a body, rendered whole or as stream chunks. */
function completionAnswer(body: Record<string, unknown>, prompts: ReadonlyArray<string | readonly number[]>) {
  const n = typeof body.n === "number" && body.n > 1 ? Math.floor(body.n) : 1;
  const maxTokens = typeof body.max_tokens === "number" ? Math.max(0, Math.floor(body.max_tokens)) : DEFAULT_MAX_TOKENS;
  const echo = body.echo === true;
  const logprobs = typeof body.logprobs === "number" ? body.logprobs : undefined;
  const alternatives: Alternative[] = [];
  prompts.forEach((prompt, p) => {
    for (let c = 0; c < n; c++) {
      const full = mockCompletionText(prompt, c);
      const words = full.match(/\S+/g) ?? [];
      const cut = words.length > maxTokens;
      alternatives.push({
        index: p * n + c,
        generated: cut ? (maxTokens === 0 ? "" : ` ${words.slice(0, maxTokens).join(" ")}`) : full,
        echoed: echo ? promptText(prompt) : "",
        finishReason: cut ? "length" : "stop",
      });
    }
  });
  const promptTokens = prompts.reduce<number>((sum, p) => sum + (typeof p === "string" ? wordCount(p) : p.length), 0);
  const completionTokens = alternatives.reduce((sum, a) => sum + wordCount(a.generated), 0);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const seq = ++sequence;
  const envelope = {
    id: `cmpl-${createHash("sha256").update(`${seq}:${JSON.stringify(body)}`).digest("hex").slice(0, 29)}`,
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: body.model as string,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const logprobsOf = (text: string, offset: number) => (logprobs === undefined ? null : mockLogprobs(text, offset, logprobs));

  return {
    whole: () => ({
      ...envelope,
      choices: alternatives.map((a) => ({
        text: a.echoed + a.generated,
        index: a.index,
        logprobs: logprobsOf(a.echoed + a.generated, 0),
        finish_reason: a.finishReason,
      })),
      usage,
    }),
    /** Per alternative: the echoed prompt, then the text word by word, then the finish reason; usage last when asked. */
    chunks: (includeUsage: boolean) => {
      const usageField = includeUsage ? { usage: null } : {};
      const chunk = (index: number, text: string, offset: number, finishReason: string | null = null) => ({
        ...envelope,
        choices: [{ text, index, logprobs: text === "" ? null : logprobsOf(text, offset), finish_reason: finishReason }],
        ...usageField,
      });
      const out: Record<string, unknown>[] = [];
      for (const a of alternatives) {
        let offset = 0;
        if (a.echoed !== "") {
          out.push(chunk(a.index, a.echoed, offset));
          offset += a.echoed.length;
        }
        for (const piece of a.generated.split(/(?= )/)) {
          if (piece === "") continue;
          out.push(chunk(a.index, piece, offset));
          offset += piece.length;
        }
        out.push(chunk(a.index, "", offset, a.finishReason));
      }
      if (includeUsage) out.push({ ...envelope, choices: [], usage });
      return out;
    },
  };
}

/** OpenAI's legacy logprobs object for `text`, one "token" per space-led word, `top` alternatives each. */
function mockLogprobs(text: string, offset: number, top: number) {
  const tokens = text.split(/(?= )/).filter((t) => t !== "");
  const offsets: number[] = [];
  let at = offset;
  for (const token of tokens) {
    offsets.push(at);
    at += token.length;
  }
  return {
    tokens,
    token_logprobs: tokens.map((_, i) => -0.125 * (i + 1)),
    top_logprobs: top === 0 ? null : tokens.map((token, i) => ({ [token]: -0.125 * (i + 1) })),
    text_offset: offsets,
  };
}

function promptsOf(prompt: unknown): Array<string | number[]> | undefined {
  if (typeof prompt === "string") return [prompt];
  if (!Array.isArray(prompt) || prompt.length === 0) return undefined;
  if (prompt.every((p) => typeof p === "string")) return prompt as string[];
  if (prompt.every((p) => typeof p === "number")) return [prompt as number[]];
  if (prompt.every((p) => Array.isArray(p) && p.every((t) => typeof t === "number"))) return prompt as number[][];
  return undefined;
}

function wordCount(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function invalid(message: string, param: string | null): { error: Record<string, unknown> } {
  return { error: { message, type: "invalid_request_error", param, code: null } };
}
