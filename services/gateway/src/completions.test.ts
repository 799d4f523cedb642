import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { CompletionChunkSchema, type CompletionChunk } from "@llmmesh/proto";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { aborted, SERVED, startTestGateway, type TestGateway } from "./test-harness.js";

/** A streamed text-completion chunk adding `text` to choice 0. */
function textChunk(text: string): CompletionChunk {
  return create(CompletionChunkSchema, { id: "cmpl-test", created: 1_700_000_000n, model: "gpt-test", choices: [{ index: 0n, text }] });
}

/** POST /v1/completions's streaming edge cases, through the official SDK (the router behind it is a fake). */
describe("POST /v1/completions streams", () => {
  let gw: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gw = await startTestGateway();
    client = new OpenAI({ baseURL: `${gw.origin}/v1`, apiKey: "test", maxRetries: 0 });
  });
  afterAll(() => gw.close());
  afterEach(() => {
    gw.reset();
  });

  it("ends a stream that fails after its first chunk with an OpenAI error event, which the SDK raises", async () => {
    gw.fake.completeStream = async function* () {
      yield { chunk: textChunk("Once"), served: SERVED };
      throw meshError(Code.Unavailable, "upstream connection reset", { reason: Reason.UpstreamError, upstreamStatus: 502 });
    };
    const stream = await client.completions.create({ model: "m", prompt: "x", stream: true });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.text ?? "");
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["Once"]);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(failure).toMatchObject({ message: "upstream connection reset", code: "upstream_error", type: "api_error" });
  });

  it("answers a failure before the first chunk with its own status, not a 200", async () => {
    // eslint-disable-next-line require-yield
    gw.fake.completeStream = async function* () {
      throw meshError(Code.ResourceExhausted, "Rate limit reached.", { reason: Reason.RateLimited, retryAfterMs: 2_000n });
    };
    const err = await client.completions.create({ model: "m", prompt: "x", stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("2");
  });

  it("cancels the router stream when the client leaves mid-stream", async () => {
    let routerAborted: Promise<void> | undefined;
    gw.fake.completeStream = async function* (_, ctx) {
      routerAborted = aborted(ctx.signal);
      yield { chunk: textChunk("first"), served: SERVED };
      await routerAborted;
    };
    const leave = new AbortController();
    const stream = await client.completions.create({ model: "m", prompt: "x", stream: true }, { signal: leave.signal });
    for await (const chunk of stream) {
      expect(chunk.choices[0]?.text).toBe("first");
      leave.abort();
      break;
    }
    await routerAborted;
    // A client leaving is no failure of ours: nothing is logged.
    expect(gw.logs).toEqual([]);
  });
});
