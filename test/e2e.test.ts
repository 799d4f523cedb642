/**
 * End to end, as users see it: the official `openai` SDK and a plain
 * `@grpc/grpc-js` client against the mesh, in both deployments (all five
 * services in one process, and five separate processes over real gRPC), in
 * front of real HTTP mock upstreams that speak OpenAI's wire format.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import OpenAI, { APIError } from "openai";
import * as grpc from "@grpc/grpc-js";
import { startMockOpenAI, type MockOpenAI } from "./support/mock-openai-upstream.js";
import { startAllInOne, startMesh } from "./support/mesh.js";
import { bearer, loadService, routerClient, unary, type PlainGrpcClient } from "./support/grpc-client.js";

const TEAM_KEY = "sk-e2e-team-a-0123456789";
const UPSTREAM_KEY = "sk-upstream-secret-42";
const ENV = { E2E_TEAM_KEY: TEAM_KEY, E2E_UPSTREAM_KEY: UPSTREAM_KEY };

function configFor(primary: MockOpenAI, secondary: MockOpenAI): string {
  return `
providers:
  - { name: primary, adapter: openai, base_url: "${primary.url}", api_key: "\${E2E_UPSTREAM_KEY}" }
  - { name: secondary, adapter: openai, base_url: "${secondary.url}", api_key: "\${E2E_UPSTREAM_KEY}" }
  - { name: mock, adapter: custom, protocol: mock, options: { delay_ms: 1 } }
models:
  - name: gpt-e2e
    routing: { retries: 2, backoff_ms: 1, timeout_ms: 20000 }
    targets:
      - { provider: primary, model: gpt-4o-mini }
      - { provider: secondary, model: gpt-4o-mini }
  - name: embed-e2e
    targets: [{ provider: primary, model: text-embedding-3-small }]
  - name: mock
    targets: [{ provider: mock, model: mock-1 }]
keys:
  - { id: team-a, key: "\${E2E_TEAM_KEY}", models: [gpt-e2e, embed-e2e, mock] }
server:
  body_limit_bytes: 65536
`;
}

/** Fields that legitimately differ between two calls: ids and clocks. */
function withoutIds<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === "id" || key === "created" ? undefined : v)) as T;
}

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather for a city",
      parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] },
    },
  },
];

interface Deployment {
  url: string;
  routerUrl: string;
  /** Every process's address. */
  processUrls: string[];
  stop(): Promise<void>;
}

const deployments: Array<[string, (config: string) => Promise<Deployment>]> = [
  [
    "all-in-one",
    async (config) => {
      Object.assign(process.env, ENV);
      const host = await startAllInOne(config);
      return { url: host.url, routerUrl: host.url, processUrls: [host.url], stop: () => host.close(1000) };
    },
  ],
  [
    "mesh of separate processes",
    async (config) => {
      const mesh = await startMesh(config, ENV);
      return {
        url: mesh.gateway.url,
        routerUrl: mesh.router.url,
        processUrls: [mesh.gateway, mesh.router, mesh.policy, mesh.adapterOpenAI, mesh.adapterCustom].map((p) => p.url),
        stop: () => mesh.stop(),
      };
    },
  ],
];

describe.each(deployments)("%s", (_mode, start) => {
  let primary: MockOpenAI;
  let secondary: MockOpenAI;
  let mesh: Deployment;
  let client: OpenAI;
  let direct: OpenAI;
  let grpcRouter: PlainGrpcClient;

  beforeAll(async () => {
    primary = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
    secondary = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
    mesh = await start(configFor(primary, secondary));
    client = new OpenAI({ baseURL: `${mesh.url}/v1`, apiKey: TEAM_KEY, maxRetries: 0 });
    direct = new OpenAI({ baseURL: primary.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
    grpcRouter = routerClient(mesh.routerUrl);
  });
  afterAll(async () => {
    grpcRouter?.close();
    await mesh?.stop();
    await primary?.close();
    await secondary?.close();
  });
  afterEach(() => {
    primary.reset();
    secondary.reset();
  });

  it("lists the models the key may use", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["embed-e2e", "gpt-e2e", "mock"]);
  });

  it("answers a chat completion exactly as the upstream does, but for ids", async () => {
    const request = {
      messages: [
        { role: "system" as const, content: "Be brief." },
        { role: "user" as const, content: "What is a mesh?" },
      ],
      temperature: 0.2,
      seed: 7,
    };
    const viaMesh = await client.chat.completions.create({ model: "gpt-e2e", ...request });
    const straight = await direct.chat.completions.create({ model: "gpt-4o-mini", ...request });
    expect(withoutIds(viaMesh)).toEqual(withoutIds(straight));
    expect(viaMesh.choices[0]?.message.content).toContain("What is a mesh?");
    // The upstream got the upstream model name and its own key, never the client's.
    const sent = primary.requests.at(0);
    expect((sent?.body as { model: string }).model).toBe("gpt-4o-mini");
    expect(sent?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it("streams chunks exactly as the upstream does, with usage when asked", async () => {
    const collect = async (stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) => {
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };
    const messages = [{ role: "user" as const, content: "Stream me a story" }];
    const viaMesh = await collect(
      await client.chat.completions.create({ model: "gpt-e2e", messages, stream: true, stream_options: { include_usage: true } }),
    );
    const straight = await collect(
      await direct.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true, stream_options: { include_usage: true } }),
    );
    expect(withoutIds(viaMesh)).toEqual(withoutIds(straight));
    expect(viaMesh.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
    expect(viaMesh.at(-1)?.choices).toEqual([]);

    const withoutUsage = await collect(await client.chat.completions.create({ model: "gpt-e2e", messages, stream: true }));
    const plainStraight = await collect(await direct.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    expect(withoutIds(withoutUsage)).toEqual(withoutIds(plainStraight));
    expect(withoutUsage.every((c) => c.usage === undefined || c.usage === null)).toBe(true);
  });

  it("returns tool calls, non-streamed and streamed, with arguments reassembled", async () => {
    const messages = [{ role: "user" as const, content: "Weather in Paris?" }];
    const whole = await client.chat.completions.create({ model: "gpt-e2e", messages, tools: TOOLS });
    const call = whole.choices[0]?.message.tool_calls?.[0];
    expect(whole.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call?.type === "function" && call.function.name).toBe("get_weather");
    const straight = await direct.chat.completions.create({ model: "gpt-4o-mini", messages, tools: TOOLS });
    expect(withoutIds(whole)).toEqual(withoutIds(straight));

    const stream = await client.chat.completions.create({ model: "gpt-e2e", messages, tools: TOOLS, stream: true });
    const args: string[] = [];
    let name = "";
    let fragments = 0;
    for await (const chunk of stream) {
      for (const fragment of chunk.choices[0]?.delta.tool_calls ?? []) {
        expect(fragment.index).toBe(0);
        if (fragment.function?.name) name = fragment.function.name;
        if (fragment.function?.arguments) {
          args.push(fragment.function.arguments);
          fragments++;
        }
      }
    }
    expect(name).toBe("get_weather");
    expect(fragments).toBeGreaterThan(1);
    expect(args.join("")).toBe(call?.type === "function" ? call.function.arguments : "");
    expect(JSON.parse(args.join(""))).toHaveProperty("city");
  });

  it("creates embeddings exactly as the upstream does", async () => {
    const input = ["first text", "second text"];
    const viaMesh = await client.embeddings.create({ model: "embed-e2e", input });
    const straight = await direct.embeddings.create({ model: "text-embedding-3-small", input });
    expect(viaMesh).toEqual(straight);
    expect(viaMesh.data).toHaveLength(2);
  });

  it("retries an upstream 500 and succeeds", async () => {
    primary.failNext(1, { status: 500 });
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-e2e", messages: [{ role: "user", content: "retry me" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain("retry me");
    expect(response.headers.get("x-llmmesh-attempts")).toBe("2");
    expect(response.headers.get("x-llmmesh-served-by")).toBe("primary/gpt-4o-mini");
    expect(primary.requests).toHaveLength(2);
    expect(secondary.requests).toHaveLength(0);
  });

  it("falls back to the second target when the first answers 429", async () => {
    primary.failNext(1, { status: 429, headers: { "retry-after": "1" } });
    const { data, response } = await client.chat.completions
      .create({ model: "gpt-e2e", messages: [{ role: "user", content: "fall back" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain("fall back");
    expect(response.headers.get("x-llmmesh-served-by")).toBe("secondary/gpt-4o-mini");
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(1);
  });

  it("refuses a bad key with 401 and an unknown model with 404", async () => {
    const stranger = new OpenAI({ baseURL: `${mesh.url}/v1`, apiKey: "sk-wrong-key-000000", maxRetries: 0 });
    const denied = await stranger.chat.completions.create({ model: "gpt-e2e", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((denied as APIError).message).not.toContain("sk-wrong-key-000000");

    const missing = await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as APIError).code).toBe("model_not_found");
    expect(primary.requests).toHaveLength(0);
  });

  it("answers malformed JSON with 400 and an oversized body with 413, in OpenAI's envelope", async () => {
    const post = (body: string) =>
      fetch(`${mesh.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEAM_KEY}` },
        body,
      });
    const malformed = await post('{"model": "gpt-e2e", "messages": [');
    expect(malformed.status).toBe(400);
    const malformedBody = (await malformed.json()) as { error: { type: string; message: string } };
    expect(malformedBody.error.type).toBe("invalid_request_error");
    expect(malformedBody.error.message).toMatch(/JSON/i);

    const huge = await post(JSON.stringify({ model: "gpt-e2e", messages: [{ role: "user", content: "x".repeat(100_000) }] }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { message: string } }).error.message).toMatch(/too large/i);
    expect(primary.requests).toHaveLength(0);
  });

  it("cancels the upstream request when the client goes away mid-stream", async () => {
    primary.streamDelayMs = 200;
    try {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: "gpt-e2e", messages: [{ role: "user", content: "a long story to be cut short" }], stream: true },
        { signal: controller.signal },
      );
      const aborted = primary.waitForAbort(1);
      for await (const _chunk of stream) {
        controller.abort();
        break;
      }
      await aborted;
      expect(primary.abortedRequests).toBe(1);
    } finally {
      primary.streamDelayMs = 0;
    }
  });

  it("serves internal callers over plain gRPC with the same key and the same answer", async () => {
    const chat = { model: "gpt-e2e", messages: [{ role: "user", text: "over gRPC" }] };
    const answer = await unary(grpcRouter.Chat.bind(grpcRouter), { chat }, bearer(TEAM_KEY));
    const choices = (answer.chat as { choices: Array<{ message: { text: string } }> }).choices;
    const viaRest = await client.chat.completions.create({ model: "gpt-e2e", messages: [{ role: "user", content: "over gRPC" }] });
    expect(choices[0]?.message.text).toBe(viaRest.choices[0]?.message.content);
    expect(answer.served).toMatchObject({ provider: "primary", model: "gpt-4o-mini" });

    const chunks: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = grpcRouter.ChatStream({ chat }, bearer(TEAM_KEY));
      call.on("data", (message: { chunk?: { choices?: Array<{ delta?: { content?: string } }> } }) => {
        const content = message.chunk?.choices?.[0]?.delta?.content;
        if (content) chunks.push(content);
      });
      call.on("error", reject);
      call.on("end", resolve);
    });
    expect(chunks.join("")).toBe(viaRest.choices[0]?.message.content);

    const refused = await unary(grpcRouter.Chat.bind(grpcRouter), { chat }, new grpc.Metadata()).catch((e: grpc.ServiceError) => e);
    expect((refused as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("answers health checks on every process, and server reflection", async () => {
    const Health = loadService("grpc.health.v1.Health", "grpc/health/v1/health.proto");
    for (const url of mesh.processUrls) {
      const health = new Health(new URL(url).host, grpc.credentials.createInsecure()) as grpc.Client & {
        Check: (req: object, cb: (err: grpc.ServiceError | null, res: { status: string }) => void) => void;
      };
      const status = await new Promise<{ status: string }>((resolve, reject) =>
        health.Check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res))),
      );
      expect(status.status, url).toBe("SERVING");
      health.close();
    }

    const Reflection = loadService("grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto");
    const reflection = new Reflection(new URL(mesh.routerUrl).host, grpc.credentials.createInsecure()) as grpc.Client & {
      ServerReflectionInfo: () => grpc.ClientDuplexStream<object, { list_services_response?: { service: Array<{ name: string }> } }>;
    };
    const names = await new Promise<string[]>((resolve, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on("data", (res) => {
        resolve(res.list_services_response?.service.map((s: { name: string }) => s.name) ?? []);
        call.end();
      });
      call.on("error", reject);
      call.write({ list_services: "" });
    });
    expect(names).toContain("llmmesh.v1.RouterService");
    expect(names).toContain("grpc.health.v1.Health");
    reflection.close();
  });
});
