import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { ConfigStore, createLogger, parseConfig, type HttpHandler } from "@llmmesh/common";
import { create } from "@bufbuild/protobuf";
import { ChatChunkSchema, ChatResponseSchema, RouterService, type ChatChunk, type ChatResponse } from "@llmmesh/proto";
import { createGatewayHandler } from "./gateway-handler.js";

/**
 * Test support (not part of the package API): the gateway on a real HTTP
 * server on port 0, calling a fake RouterService through Connect's
 * in-memory transport. Tests set the fake's methods per case.
 */
export type FakeRouter = Partial<ServiceImpl<typeof RouterService>>;

/** A running gateway for tests. */
export interface TestGateway {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Replace methods here to change what the router answers. */
  readonly fake: FakeRouter;
  /** Every log line the gateway wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Forgets every fake router method and log line: for an `afterEach`. */
  reset(): void;
  close(): Promise<void>;
}

/** The config the tests run on: a small body limit so 413 is cheap to provoke. */
export const TEST_CONFIG_YAML = `
server:
  body_limit_bytes: 4096
`;

/** Starts the gateway on 127.0.0.1:0 over HTTP/1.1 (or cleartext HTTP/2 with `http2: true`); `beforeHandle` sees each request first. */
export async function startTestGateway(options: { http2?: boolean; yaml?: string; beforeHandle?: HttpHandler } = {}): Promise<TestGateway> {
  const fake: FakeRouter = {};
  const missing = (name: string) => new ConnectError(`fake router has no ${name}`, Code.Unimplemented);
  const impl: ServiceImpl<typeof RouterService> = {
    chat: (req, ctx) => {
      if (!fake.chat) throw missing("chat");
      return fake.chat(req, ctx);
    },
    chatStream: (req, ctx) => {
      if (!fake.chatStream) throw missing("chatStream");
      return fake.chatStream(req, ctx);
    },
    embed: (req, ctx) => {
      if (!fake.embed) throw missing("embed");
      return fake.embed(req, ctx);
    },
    complete: (req, ctx) => {
      if (!fake.complete) throw missing("complete");
      return fake.complete(req, ctx);
    },
    completeStream: (req, ctx) => {
      if (!fake.completeStream) throw missing("completeStream");
      return fake.completeStream(req, ctx);
    },
    listModels: (req, ctx) => {
      if (!fake.listModels) throw missing("listModels");
      return fake.listModels(req, ctx);
    },
  };
  const router = createClient(RouterService, createRouterTransport((r) => r.service(RouterService, impl)));
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({}, "debug", (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
  const config = new ConfigStore(parseConfig(options.yaml ?? TEST_CONFIG_YAML));
  const gatewayHandler: HttpHandler = createGatewayHandler({ router, config, logger });
  // `beforeHandle` may tamper with a request or response first (to break one on purpose).
  const handler: HttpHandler = options.beforeHandle
    ? (req, res) => {
        options.beforeHandle!(req, res);
        gatewayHandler(req, res);
      }
    : gatewayHandler;

  const server = options.http2 ? http2.createServer(handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    fake,
    logs,
    reset() {
      for (const key of Object.keys(fake)) delete fake[key as keyof FakeRouter];
      logs.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (server instanceof http.Server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Where the fake router says requests were served. */
export const SERVED = { provider: "mock", model: "gpt-test", attempts: 2 } as const;

/** A chunk adding `content` to choice 0 (with the role on the first one, as OpenAI does). */
export function contentChunk(content: string, options: { role?: string; finishReason?: string } = {}): ChatChunk {
  return create(ChatChunkSchema, {
    id: "chatcmpl-test",
    created: 1_700_000_000n,
    model: "gpt-test",
    choices: [{ index: 0n, delta: { role: options.role, content }, finishReason: options.finishReason }],
  });
}

/** The final usage-only chunk an adapter always produces (no choices). */
export function usageChunk(): ChatChunk {
  return create(ChatChunkSchema, {
    id: "chatcmpl-test",
    created: 1_700_000_000n,
    model: "gpt-test",
    choices: [],
    usage: { promptTokens: 7n, completionTokens: 3n, totalTokens: 10n },
  });
}

/** A complete answer saying `text`. */
export function chatResponse(text: string): ChatResponse {
  return create(ChatResponseSchema, {
    id: "chatcmpl-test",
    created: 1_700_000_000n,
    model: "gpt-test",
    choices: [{ index: 0n, message: { role: "assistant", content: { case: "text", value: text } }, finishReason: "stop" }],
    usage: { promptTokens: 7n, completionTokens: 3n, totalTokens: 10n },
  });
}

/** Resolves when `signal` aborts: lets a fake wait for the cancellation the test expects. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
