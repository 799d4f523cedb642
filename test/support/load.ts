/**
 * A steady load of chat completions through one or more gateways, half of
 * them streamed, each checked end to end: HTTP 200, the whole answer (the
 * mocks echo the prompt, so a cut answer shows), `finish_reason: stop`, and
 * for streams the closing `data: [DONE]`. Anything else is a failure, with
 * its reason.
 */

/** What the load sends where. */
export interface LoadOptions {
  /** Gateway base URLs, read per request (so a test can add one). */
  gateways: () => readonly string[];
  /** Models to ask for, read per request (so a test can change them under load). */
  models: () => readonly string[];
  /** Requests in flight at any time. */
  concurrency: number;
  /** Client API key, if the config has keys. */
  apiKey?: string;
}

/** What the load saw. */
export interface LoadReport {
  readonly total: number;
  readonly streamed: number;
  /** One line per failed or truncated request. */
  readonly failures: readonly string[];
}

/** A running load. */
export interface Load {
  /** Completed requests so far. */
  completed(): number;
  /** Lets requests in flight finish, then reports. */
  stop(): Promise<LoadReport>;
}

/** Starts the load at once. */
export function startLoad(options: LoadOptions): Load {
  let running = true;
  let total = 0;
  let streamed = 0;
  const failures: string[] = [];
  const worker = async (id: number) => {
    for (let i = 0; running; i++) {
      const gateways = options.gateways();
      const models = options.models();
      const gateway = gateways[(id + i) % gateways.length] as string;
      const model = models[(id + i) % models.length] as string;
      const stream = (id + i) % 2 === 0;
      const prompt = `load ${id}-${i}`;
      const problem = await oneRequest(gateway, model, prompt, stream, options.apiKey).catch((err: unknown) => `request error: ${String(err)}`);
      total++;
      if (stream) streamed++;
      if (problem !== undefined) failures.push(`${stream ? "stream" : "unary"} ${model} via ${gateway}: ${problem}`);
    }
  };
  const workers = Array.from({ length: options.concurrency }, (_, id) => worker(id));
  return {
    completed: () => total,
    async stop() {
      running = false;
      await Promise.all(workers);
      return { total, streamed, failures };
    },
  };
}

/** One checked request; undefined when all is well, else what went wrong. */
async function oneRequest(gateway: string, model: string, prompt: string, stream: boolean, apiKey: string | undefined): Promise<string | undefined> {
  const res = await fetch(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: prompt }] }),
  });
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 300)}`;
  if (!stream) {
    const body = JSON.parse(text) as { choices?: Array<{ message?: { content?: string }; finish_reason?: string }> };
    const choice = body.choices?.[0];
    if (!choice?.message?.content?.endsWith(prompt)) return `unexpected answer: ${text.slice(0, 300)}`;
    if (choice.finish_reason !== "stop") return `finish_reason ${String(choice.finish_reason)}`;
    return undefined;
  }
  const events = text
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice("data: ".length));
  if (events.at(-1) !== "[DONE]") return `stream without [DONE]: ${text.slice(-300)}`;
  let content = "";
  let finish: string | undefined;
  for (const event of events.slice(0, -1)) {
    const chunk = JSON.parse(event) as { choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>; error?: unknown };
    if (chunk.error) return `stream error event: ${event.slice(0, 300)}`;
    for (const choice of chunk.choices ?? []) {
      content += choice.delta?.content ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  if (!content.endsWith(prompt)) return `truncated stream: ${JSON.stringify(content)}`;
  if (finish !== "stop") return `stream finish_reason ${String(finish)}`;
  return undefined;
}
