import { Code } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { aborted, chatResponse, contentChunk, SERVED, startTestGateway, usageChunk, type TestGateway } from "./test-harness.js";

/** /v1/messages through the official Anthropic SDK, in front of a fake router: how router errors and streams look. */
describe("gateway /v1/messages through @anthropic-ai/sdk", () => {
  let gw: TestGateway;
  let client: Anthropic;
  beforeAll(async () => {
    gw = await startTestGateway();
    client = new Anthropic({ baseURL: gw.origin, apiKey: "sk-test-key-for-the-fake", maxRetries: 0 });
  });
  afterAll(() => gw.close());
  afterEach(() => {
    gw.reset();
  });

  const REQUEST = { model: "chat-default", max_tokens: 50, messages: [{ role: "user" as const, content: "Say hello" }] };

  it("passes the SDK's key to the router as a bearer token", async () => {
    let authorization: string | null = null;
    gw.fake.chat = (_req, ctx) => {
      authorization = ctx.requestHeader.get("authorization");
      return { chat: chatResponse("Hello!"), served: SERVED };
    };
    const message = await client.messages.create(REQUEST);
    expect(message.content).toEqual([{ type: "text", text: "Hello!" }]);
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
    expect(authorization).toBe("Bearer sk-test-key-for-the-fake");
  });

  it.each([
    [meshError(Code.Unauthenticated, "Incorrect API key provided", { reason: Reason.InvalidApiKey }), Anthropic.AuthenticationError, 401, "authentication_error"],
    [meshError(Code.PermissionDenied, "Model not allowed for this key", { reason: Reason.ModelNotAllowed }), Anthropic.PermissionDeniedError, 403, "permission_error"],
    [meshError(Code.NotFound, "model: nope", { reason: Reason.ModelNotFound, param: "model" }), Anthropic.NotFoundError, 404, "not_found_error"],
    [meshError(Code.ResourceExhausted, "Rate limit exceeded", { reason: Reason.RateLimited, retryAfterMs: 1200n }), Anthropic.RateLimitError, 429, "rate_limit_error"],
    [meshError(Code.Internal, "Upstream answered 500", { reason: Reason.UpstreamError, upstreamStatus: 500 }), Anthropic.InternalServerError, 500, "api_error"],
    [meshError(Code.Internal, "Upstream answered no JSON", { reason: Reason.UpstreamError }), Anthropic.InternalServerError, 502, "api_error"],
    [meshError(Code.Unavailable, "No adapter reachable", { reason: Reason.Internal }), Anthropic.InternalServerError, 503, "overloaded_error"],
    [meshError(Code.DeadlineExceeded, "Upstream timed out", { reason: Reason.UpstreamTimeout }), Anthropic.InternalServerError, 504, "timeout_error"],
  ])("%#: a router error keeps its status, in Anthropic's envelope", async (thrown, ErrorClass, status, type) => {
    gw.fake.chat = () => {
      throw thrown;
    };
    const err = await client.messages.create(REQUEST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err).toMatchObject({ status, type });
    expect((err as APIError).error).toEqual({
      type: "error",
      error: { type, message: thrown.rawMessage },
      request_id: (err as APIError).headers?.get("x-request-id"),
    });
    // Anthropic's own header for it, which the SDK reads.
    expect((err as APIError).requestID).toBe((err as APIError).headers?.get("x-request-id"));
    if (status === 429) expect((err as APIError).headers?.get("retry-after")).toBe("2");
  });

  it("streams through the translator and cancels the router call when the client leaves", async () => {
    let routerAborted: Promise<void> | undefined;
    gw.fake.chatStream = async function* (_req, ctx) {
      routerAborted = aborted(ctx.signal);
      yield { chunk: contentChunk("Hel", { role: "assistant" }), served: SERVED };
      yield { chunk: contentChunk("lo!") };
      await routerAborted;
    };
    const logsBefore = gw.logs.length;
    const stream = client.messages.stream(REQUEST);
    const text: string[] = [];
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text.push(event.delta.text);
      if (text.length === 2) break;
    }
    expect(text).toEqual(["Hel", "lo!"]);
    // Leaving the SDK's stream closes the connection, which cancels the router call.
    await routerAborted;
    // A client leaving is no failure worth a log line.
    expect(gw.logs.slice(logsBefore)).toEqual([]);
  });

  it("ends a complete stream with message_delta usage and message_stop", async () => {
    gw.fake.chatStream = async function* () {
      yield { chunk: contentChunk("Hi", { role: "assistant" }), served: SERVED };
      yield { chunk: contentChunk("", { finishReason: "length" }) };
      yield { chunk: usageChunk() };
    };
    const message = await client.messages.stream(REQUEST).finalMessage();
    expect(message).toMatchObject({ content: [{ type: "text", text: "Hi" }], stop_reason: "max_tokens", usage: { input_tokens: 7, output_tokens: 3 } });
    // The SDK copies stop_details from message_delta; its type says null, never undefined.
    expect(message.stop_details).toBeNull();
  });

  it("answers 405 and unknown /v1/messages paths in Anthropic's envelope", async () => {
    const wrongMethod = await fetch(`${gw.origin}/v1/messages`);
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const unknown = await fetch(`${gw.origin}/v1/messages/nope`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    // Elsewhere the envelope stays OpenAI's.
    expect(await (await fetch(`${gw.origin}/v1/nope`)).json()).toMatchObject({ error: { type: "invalid_request_error", code: "unknown_url" } });
  });
});
