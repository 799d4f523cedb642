import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  aborted,
  chatResponse,
  contentChunk,
  SERVED,
  startTestGateway,
  usageChunk,
  type TestGateway,
} from "./test-harness.js";

const CHAT_BODY = { model: "chat-default", messages: [{ role: "user", content: "hi" }] };

function post(gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gw.origin + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

/** The OpenAI error envelope's inside. */
interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

async function errorOf(res: Response): Promise<ErrorBody> {
  return ((await res.json()) as { error: ErrorBody }).error;
}

/** The `data:` payloads of an SSE body, in order. */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event !== "")
    .map((event) => {
      expect(event.startsWith("data: ")).toBe(true);
      return event.slice("data: ".length);
    });
}

describe("gateway over HTTP/1.1", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());
  afterEach(() => {
    gw.reset();
  });

  describe("routing", () => {
    it("answers /healthz with the config revision", async () => {
      const res = await fetch(`${gw.origin}/healthz`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({ status: "ok", revision: expect.stringMatching(/^[0-9a-f]{12}$/) });
    });

    it("answers an unknown path with an OpenAI 404, CORS and a request id", async () => {
      const res = await post(gw, "/v1/foo?x=1", {});
      expect(res.status).toBe(404);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.json()).toEqual({
        error: { message: "Unknown request URL: POST /v1/foo", type: "invalid_request_error", param: null, code: "unknown_url" },
      });
    });

    it("serves only under /v1", async () => {
      const res = await post(gw, "/chat/completions", CHAT_BODY);
      expect(res.status).toBe(404);
    });

    it("answers a known path with the wrong method with 405 and Allow", async () => {
      const res = await fetch(`${gw.origin}/v1/chat/completions`);
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST, OPTIONS");
      expect((await errorOf(res))).toMatchObject({ type: "invalid_request_error", code: "method_not_allowed" });
    });

    it("answers a CORS preflight, allowing the SDK's header families only", async () => {
      const res = await fetch(`${gw.origin}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type, x-stainless-os, openai-organization, x-evil",
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST, OPTIONS");
      const allowed = res.headers.get("access-control-allow-headers")?.split(", ") ?? [];
      expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "x-request-id", "x-stainless-os", "openai-organization"]));
      expect(allowed).not.toContain("x-evil");
    });
  });

  describe("request metadata", () => {
    it("echoes the client's request id and forwards it and the authorization header to the router", async () => {
      let seen: Headers | undefined;
      gw.fake.chat = (_, ctx) => {
        seen = ctx.requestHeader;
        return { chat: chatResponse("ok"), served: SERVED };
      };
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY, { "x-request-id": "client-id-1", authorization: "Bearer sk-abc" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toBe("client-id-1");
      expect(seen?.get("x-request-id")).toBe("client-id-1");
      expect(seen?.get("authorization")).toBe("Bearer sk-abc");
    });

    it("replaces an unacceptable request id with a generated one, the same one the router sees", async () => {
      let seen: string | null | undefined;
      gw.fake.chat = (_, ctx) => {
        seen = ctx.requestHeader.get("x-request-id");
        return { chat: chatResponse("ok") };
      };
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY, { "x-request-id": "x".repeat(129) });
      const id = res.headers.get("x-request-id");
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen).toBe(id);
    });

    it("sends no authorization to the router when the client sent none", async () => {
      let seen: string | null = "unset";
      gw.fake.chat = (_, ctx) => {
        seen = ctx.requestHeader.get("authorization");
        return { chat: chatResponse("ok") };
      };
      await post(gw, "/v1/chat/completions", CHAT_BODY);
      expect(seen).toBeNull();
    });

    it("reports where the router served the request", async () => {
      gw.fake.chat = () => ({ chat: chatResponse("ok"), served: SERVED });
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY);
      expect(res.headers.get("x-llmmesh-served-by")).toBe("mock/gpt-test");
      expect(res.headers.get("x-llmmesh-attempts")).toBe("2");
      expect(res.headers.get("access-control-expose-headers")).toContain("x-llmmesh-served-by");
    });

    it("reports the mesh's own time: its elapsed time minus the upstream's, never below zero", async () => {
      gw.fake.chat = () => ({ chat: chatResponse("ok"), served: { ...SERVED, upstreamMs: 0 } });
      const started = performance.now();
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY);
      const elapsed = performance.now() - started;
      const overhead = Number(res.headers.get("x-llmmesh-overhead-ms"));
      expect(overhead).toBeGreaterThan(0);
      expect(overhead).toBeLessThanOrEqual(elapsed + 0.01);
      // An upstream time beyond the gateway's own elapsed time (impossible, but a peer may be wrong) is clamped.
      gw.fake.chat = () => ({ chat: chatResponse("ok"), served: { ...SERVED, upstreamMs: 1e9 } });
      const clamped = await post(gw, "/v1/chat/completions", CHAT_BODY);
      expect(clamped.headers.get("x-llmmesh-overhead-ms")).toBe("0.00");
    });
  });

  describe("request bodies", () => {
    it("answers malformed JSON with 400 invalid_json naming the position", async () => {
      const res = await post(gw, "/v1/chat/completions", '{"model": "m",}');
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "invalid_json", param: null });
      expect(error.message).toMatch(/position 14/);
    });

    it("answers invalid UTF-8 with 400", async () => {
      const res = await post(gw, "/v1/chat/completions", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_encoding");
    });

    it.each([["an array", "[1,2]"], ["a string", '"hi"'], ["null", "null"]])("answers %s body with 400", async (_, body) => {
      const res = await post(gw, "/v1/chat/completions", body);
      expect(res.status).toBe(400);
      expect((await errorOf(res))).toMatchObject({ type: "invalid_request_error", code: "invalid_type" });
    });

    it("answers an empty body with 400", async () => {
      const res = await post(gw, "/v1/embeddings", "");
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("invalid_json");
    });

    it("hints at the Content-Type when a non-JSON body fails to parse", async () => {
      const res = await post(gw, "/v1/chat/completions", "model=m", { "content-type": "application/x-www-form-urlencoded" });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toContain('the Content-Type was "application/x-www-form-urlencoded"');
    });

    it("answers a validation failure with 400 and the offending param", async () => {
      const res = await post(gw, "/v1/chat/completions", { model: "m", messages: [{ role: 42, content: "x" }] });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error).toMatchObject({ type: "invalid_request_error", param: "messages[0].role" });
    });

    const tooLarge = {
      error: { message: "Request body too large: limit is 4096 bytes", type: "invalid_request_error", param: null, code: "request_too_large" },
    };

    it("refuses a body whose Content-Length is over the limit with 413", async () => {
      gw.fake.chat = () => ({ chat: chatResponse("never") });
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, pad: "x".repeat(5000) });
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual(tooLarge);
    });

    it("refuses a huge declared body before it arrives, and closes the HTTP/1 connection", async () => {
      const { port } = new URL(gw.origin);
      const socket = net.connect(Number(port), "127.0.0.1");
      socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{");
      let reply = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (reply += chunk));
      await once(socket, "close");
      expect(reply).toMatch(/^HTTP\/1\.1 413 /);
      expect(reply.toLowerCase()).toContain("connection: close");
      expect(reply).toContain('"code":"request_too_large"');
    });

    it("refuses a streamed body once it passes the limit", async () => {
      const piece = new TextEncoder().encode("x".repeat(1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 16) controller.enqueue(piece);
          else controller.close();
        },
      });
      const res = await fetch(`${gw.origin}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual(tooLarge);
      // The connection stays usable after the refusal.
      expect((await fetch(`${gw.origin}/healthz`)).status).toBe(200);
    });
  });

  describe("errors from the router", () => {
    it("keeps the status, envelope and Retry-After of a rate limit", async () => {
      gw.fake.chat = () => {
        throw meshError(Code.ResourceExhausted, "Rate limit reached for key team-a", { reason: Reason.RateLimited, retryAfterMs: 2500n });
      };
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY);
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("3");
      expect(res.headers.get("retry-after-ms")).toBe("2500");
      expect(await res.json()).toEqual({
        error: { message: "Rate limit reached for key team-a", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" },
      });
    });

    it("hides an unexpected failure behind a generic 500 and logs it with the request id", async () => {
      gw.fake.chat = () => {
        throw new Error("connection string postgres://admin:hunter2@db");
      };
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY, { "x-request-id": "req-500" });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain("hunter2");
      expect(JSON.parse(text).error).toMatchObject({ type: "api_error", code: "internal_error" });
      expect(gw.logs).toEqual([expect.objectContaining({ level: "error", requestId: "req-500", status: 500 })]);
    });

    it("logs upstream failures at warn without the caller's key", async () => {
      const key = "sk-live-0123456789abcdef";
      gw.fake.chat = () => {
        throw meshError(Code.Unavailable, `upstream refused key ${key}`, { reason: Reason.UpstreamError, upstreamStatus: 502 });
      };
      const res = await post(gw, "/v1/chat/completions", CHAT_BODY, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(502);
      expect(await res.text()).not.toContain(key);
      expect(gw.logs).toEqual([expect.objectContaining({ level: "warn", status: 502, code: "upstream_error" })]);
      expect(JSON.stringify(gw.logs)).not.toContain(key);
    });

    it("does not log client errors", async () => {
      gw.fake.chat = () => {
        throw meshError(Code.Unauthenticated, "Invalid API key", { reason: Reason.InvalidApiKey });
      };
      expect((await post(gw, "/v1/chat/completions", CHAT_BODY)).status).toBe(401);
      expect(gw.logs).toEqual([]);
    });
  });

  describe("streaming", () => {
    it("streams chunks as SSE, drops usage the client did not ask for, and ends with [DONE]", async () => {
      gw.fake.chatStream = async function* (req) {
        expect(req.chat?.includeUsage).toBe(false);
        yield { chunk: contentChunk("Hel", { role: "assistant" }), served: SERVED };
        yield { chunk: contentChunk("lo") };
        yield { chunk: { ...contentChunk("", { finishReason: "stop" }), usage: usageChunk().usage } };
        yield { chunk: usageChunk() };
      };
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("x-llmmesh-served-by")).toBe("mock/gpt-test");
      const data = sseData(await res.text());
      expect(data.at(-1)).toBe("[DONE]");
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      expect(chunks.map((c) => c.choices[0]?.delta.content)).toEqual(["Hel", "lo", ""]);
      expect(chunks.every((c) => !("usage" in c))).toBe(true);
      expect(chunks[0]).toMatchObject({ object: "chat.completion.chunk", id: "chatcmpl-test" });
    });

    it("passes usage through when the client asked for it", async () => {
      gw.fake.chatStream = async function* (req) {
        expect(req.chat?.includeUsage).toBe(true);
        yield { chunk: contentChunk("Hi", { role: "assistant", finishReason: "stop" }), served: SERVED };
        yield { chunk: usageChunk() };
      };
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true, stream_options: { include_usage: true } });
      const data = sseData(await res.text());
      expect(data).toHaveLength(3);
      expect(JSON.parse(data[1] ?? "")).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    });

    it("answers a failure before the first chunk with a plain JSON error and its status", async () => {
      // eslint-disable-next-line require-yield
      gw.fake.chatStream = async function* () {
        throw meshError(Code.DeadlineExceeded, "upstream timed out", { reason: Reason.UpstreamTimeout });
      };
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true });
      expect(res.status).toBe(504);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect((await errorOf(res))).toMatchObject({ type: "api_error", code: "upstream_timeout" });
    });

    it("ends a stream that fails midway with an error event and no [DONE]", async () => {
      gw.fake.chatStream = async function* () {
        yield { chunk: contentChunk("partial", { role: "assistant" }), served: SERVED };
        throw meshError(Code.Unavailable, "upstream connection reset", { reason: Reason.UpstreamError, upstreamStatus: 502 });
      };
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true });
      expect(res.status).toBe(200);
      const data = sseData(await res.text());
      expect(data).toHaveLength(2);
      expect(JSON.parse(data[1] ?? "")).toEqual({
        error: { message: "upstream connection reset", type: "api_error", param: null, code: "upstream_error" },
      });
    });

    it("answers a stream that ends before any chunk with 502", async () => {
      gw.fake.chatStream = async function* () {};
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true });
      expect(res.status).toBe(502);
      expect((await errorOf(res)).code).toBe("upstream_error");
    });

    it("delivers a large stream completely and in order, through write backpressure", async () => {
      const piece = "y".repeat(16 * 1024);
      gw.fake.chatStream = async function* () {
        for (let i = 0; i < 200; i++) yield { chunk: contentChunk(`${i}:${piece}`) };
      };
      const res = await post(gw, "/v1/chat/completions", { ...CHAT_BODY, stream: true });
      const data = sseData(await res.text());
      expect(data).toHaveLength(201);
      expect(data.slice(0, -1).map((d) => Number(JSON.parse(d).choices[0].delta.content.split(":")[0]))).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      );
    });
  });

  describe("cancellation", () => {
    it("cancels the router stream when the client disconnects mid-stream", async () => {
      let routerAborted: Promise<void> | undefined;
      gw.fake.chatStream = async function* (_, ctx) {
        routerAborted = aborted(ctx.signal);
        yield { chunk: contentChunk("first", { role: "assistant" }), served: SERVED };
        await routerAborted;
      };
      const client = new AbortController();
      const streamed = await fetch(`${gw.origin}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ ...CHAT_BODY, stream: true }),
        signal: client.signal,
      });
      const reader = streamed.body?.getReader();
      const first = await reader?.read();
      expect(new TextDecoder().decode(first?.value)).toContain("first");
      client.abort();
      await routerAborted;
      expect(gw.logs).toEqual([]);
    });

    it("cancels a unary router call when the client disconnects while waiting", async () => {
      let entered!: () => void;
      const inRouter = new Promise<void>((resolve) => (entered = resolve));
      let routerAborted: Promise<void> | undefined;
      gw.fake.chat = async (_, ctx) => {
        routerAborted = aborted(ctx.signal);
        entered();
        await routerAborted;
        throw new ConnectError("canceled", Code.Canceled);
      };
      const client = new AbortController();
      const request = fetch(`${gw.origin}/v1/chat/completions`, { method: "POST", body: JSON.stringify(CHAT_BODY), signal: client.signal });
      await inRouter;
      client.abort();
      await expect(request).rejects.toThrow();
      await routerAborted;
    });
  });
});

describe("gateway over HTTP/2", () => {
  let gw: TestGateway;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    gw = await startTestGateway({ http2: true });
    session = http2.connect(gw.origin);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => session.close(() => resolve()));
    await gw.close();
  });

  function request(path: string, body: unknown): Promise<{ headers: http2.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/json" });
      let text = "";
      let headers: http2.IncomingHttpHeaders = {};
      stream.setEncoding("utf8");
      stream.on("response", (h) => (headers = h));
      stream.on("data", (chunk: string) => (text += chunk));
      stream.on("end", () => resolve({ headers, text }));
      stream.on("error", reject);
      stream.end(JSON.stringify(body));
    });
  }

  it("streams SSE without HTTP/1 connection headers", async () => {
    gw.fake.chatStream = async function* () {
      yield { chunk: contentChunk("Hi", { role: "assistant", finishReason: "stop" }), served: SERVED };
    };
    const { headers, text } = await request("/v1/chat/completions", { ...CHAT_BODY, stream: true });
    expect(headers[":status"]).toBe(200);
    expect(headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(headers.connection).toBeUndefined();
    expect(sseData(text).at(-1)).toBe("[DONE]");
  });

  it("answers JSON and errors", async () => {
    gw.fake.chat = () => ({ chat: chatResponse("Hello over h2"), served: SERVED });
    const ok = await request("/v1/chat/completions", CHAT_BODY);
    expect(ok.headers[":status"]).toBe(200);
    expect(JSON.parse(ok.text).choices[0].message.content).toBe("Hello over h2");
    const tooLarge = await request("/v1/chat/completions", { pad: "x".repeat(10_000) });
    expect(tooLarge.headers[":status"]).toBe(413);
  });
});
