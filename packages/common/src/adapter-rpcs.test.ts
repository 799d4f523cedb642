import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ChatChunkSchema, ChatResponseSchema, CompletionChunkSchema, CompletionResponseSchema, EmbedResponseSchema, ModelInfoSchema } from "@llmmesh/proto";
import { adapterClient, collect, failure } from "../../../test/support/adapter-client.js";
import { createAdapterRpcs, unknownProtocolError, type AdapterProtocol } from "./adapter-rpcs.js";
import { errorDetailOf, Reason } from "./errors.js";

/** What the fake protocol was asked, as "rpc provider model". */
type Seen = string[];

function fakeAdapter() {
  const opened: string[] = [];
  const seen: Seen = [];
  const protocol: AdapterProtocol<{ provider: string }> = {
    async chat(call, model) {
      seen.push(`chat ${call.provider} ${model}`);
      return create(ChatResponseSchema, { id: "answer", model });
    },
    async *chatStream(call, model) {
      seen.push(`chatStream ${call.provider} ${model}`);
      yield create(ChatChunkSchema, { id: "first", model });
      yield create(ChatChunkSchema, { id: "second", model });
    },
    async embed(call, model) {
      seen.push(`embed ${call.provider} ${model}`);
      return create(EmbedResponseSchema, { model });
    },
    async listModels(call) {
      seen.push(`listModels ${call.provider}`);
      return [create(ModelInfoSchema, { id: "m-1" })];
    },
    async probe(call) {
      seen.push(`probe ${call.provider}`);
      return { healthy: true, latencyMs: 12, message: "ok" };
    },
  };
  const client = adapterClient(
    createAdapterRpcs((providerName) => {
      opened.push(providerName);
      return { protocol, call: { provider: providerName } };
    }),
  );
  return { client, opened, seen };
}

const chat = { model: "alias", messages: [{ role: "user", content: { case: "text" as const, value: "hi" } }] };
const target = { provider: "up", model: "up-model" };

describe("createAdapterRpcs", () => {
  it("hands each RPC to the protocol opened for its provider, with the target's model", async () => {
    const { client, opened, seen } = fakeAdapter();

    expect((await client.chat({ target, chat })).chat?.id).toBe("answer");
    expect((await collect(client.chatStream({ target, chat }))).map((c) => c.id)).toEqual(["first", "second"]);
    expect((await client.embed({ target, embed: { model: "alias" } })).embed?.model).toBe("up-model");
    expect((await client.listModels({ provider: "up" })).models.map((m) => m.id)).toEqual(["m-1"]);
    expect(await client.probe({ target: { provider: "up" } })).toMatchObject({ healthy: true, latencyMs: 12n, message: "ok" });

    expect(opened).toEqual(["up", "up", "up", "up", "up"]);
    expect(seen).toEqual(["chat up up-model", "chatStream up up-model", "embed up up-model", "listModels up", "probe up"]);
  });

  type Client = ReturnType<typeof fakeAdapter>["client"];
  it.each<[string, (client: Client) => Promise<unknown>, string]>([
    ["chat without a target", (c) => c.chat({ chat }), "target.provider"],
    ["chat without a provider", (c) => c.chat({ target: { model: "m" }, chat }), "target.provider"],
    ["chat without a model", (c) => c.chat({ target: { provider: "up" }, chat }), "target.model"],
    ["chat without a chat request", (c) => c.chat({ target }), "chat"],
    ["chatStream without a target", (c) => collect(c.chatStream({ chat })), "target.provider"],
    ["chatStream without a model", (c) => collect(c.chatStream({ target: { provider: "up" }, chat })), "target.model"],
    ["chatStream without a chat request", (c) => collect(c.chatStream({ target })), "chat"],
    ["embed without a model", (c) => c.embed({ target: { provider: "up" }, embed: {} }), "target.model"],
    ["embed without an embed request", (c) => c.embed({ target }), "embed"],
    ["listModels without a provider", (c) => c.listModels({}), "provider"],
    ["probe without a target", (c) => c.probe({}), "target.provider"],
    ["probe without a provider", (c) => c.probe({ target: { model: "m" } }), "target.provider"],
  ])("refuses %s with InvalidArgument", async (_name, call, param) => {
    const { client, seen } = fakeAdapter();
    const err = await failure(call(client));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(`${param} is required`);
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.InvalidRequest, param });
    expect(seen).toEqual([]);
  });
});

describe("completions", () => {
  const completion = { model: "alias", prompt: { case: "text" as const, value: "Once upon" } };

  it("hands Complete and CompleteStream to a protocol that has them", async () => {
    const seen: string[] = [];
    const protocol: AdapterProtocol<{ provider: string }> = {
      ...fakeAdapterProtocol(),
      async complete(call, model, request) {
        seen.push(`complete ${call.provider} ${model} ${request.prompt.value as string}`);
        return create(CompletionResponseSchema, { id: "cmpl", model, choices: [{ index: 0n, text: " a time" }] });
      },
      async *completeStream(call, model) {
        seen.push(`completeStream ${call.provider} ${model}`);
        yield create(CompletionChunkSchema, { id: "first", model });
      },
    };
    const client = adapterClient(createAdapterRpcs((provider) => ({ protocol, call: { provider } })));
    expect((await client.complete({ target, completion })).completion?.choices[0]?.text).toBe(" a time");
    expect((await collect(client.completeStream({ target, completion }))).map((c) => c.id)).toEqual(["first"]);
    expect(seen).toEqual(["complete up up-model Once upon", "completeStream up up-model"]);
  });

  it.each<[string, (client: ReturnType<typeof adapterClient>) => Promise<unknown>]>([
    ["Complete", (c) => c.complete({ target, completion })],
    ["CompleteStream", (c) => collect(c.completeStream({ target, completion }))],
  ])("refuses %s for a protocol without completions, as unsupported by the target's model", async (_name, call) => {
    const client = adapterClient(createAdapterRpcs((provider) => ({ protocol: fakeAdapterProtocol(), call: { provider } })));
    const err = await failure(call(client));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe('model "up-model" of provider "up" does not support the completions API');
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.UnsupportedFeature, provider: "up", param: "model" });
  });

  it.each<[string, (client: ReturnType<typeof adapterClient>) => Promise<unknown>, string]>([
    ["Complete without a completion request", (c) => c.complete({ target }), "completion"],
    ["CompleteStream without a model", (c) => collect(c.completeStream({ target: { provider: "up" }, completion })), "target.model"],
  ])("refuses %s with InvalidArgument", async (_name, call, param) => {
    const client = adapterClient(createAdapterRpcs((provider) => ({ protocol: fakeAdapterProtocol(), call: { provider } })));
    expect(errorDetailOf(await failure(call(client)))).toMatchObject({ reason: Reason.InvalidRequest, param });
  });
});

/** A protocol with the required methods only, answering trivially. */
function fakeAdapterProtocol(): AdapterProtocol<{ provider: string }> {
  return {
    chat: async (_call, model) => create(ChatResponseSchema, { model }),
    async *chatStream() {},
    embed: async (_call, model) => create(EmbedResponseSchema, { model }),
    listModels: async () => [],
    probe: async () => ({ healthy: true, latencyMs: 0, message: "ok" }),
  };
}

describe("unknownProtocolError", () => {
  it("names the provider, its protocol and the protocols the adapter speaks, as an operator's problem", () => {
    const err = unknownProtocolError({ adapter: "adapter-x", provider: "p", protocol: "carrier-pigeon", spoken: ["openai", "mock"] });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe('provider "p" uses protocol "carrier-pigeon", which adapter-x does not speak (it speaks: openai, mock)');
    expect(errorDetailOf(err)).toMatchObject({ reason: Reason.ProviderMisconfigured, provider: "p" });
  });
});
