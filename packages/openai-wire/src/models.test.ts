import { create } from "@bufbuild/protobuf";
import { ModelInfoSchema } from "@llmmesh/proto";
import { describe, expect, it } from "vitest";
import { modelListToJson, modelToJson } from "./models.js";

describe("modelToJson / modelListToJson", () => {
  const models = [
    create(ModelInfoSchema, { id: "chat-default", created: 1686935002n, ownedBy: "llmmesh" }),
    create(ModelInfoSchema, { id: "gpt-4o-mini", created: 0n, ownedBy: "openai" }),
  ];

  it("renders one model as OpenAI lists it", () => {
    expect(modelToJson(models[0] ?? create(ModelInfoSchema))).toStrictEqual({
      id: "chat-default", object: "model", created: 1686935002, owned_by: "llmmesh",
    });
  });

  it("renders the list in order", () => {
    expect(modelListToJson(models)).toStrictEqual({
      object: "list",
      data: [
        { id: "chat-default", object: "model", created: 1686935002, owned_by: "llmmesh" },
        { id: "gpt-4o-mini", object: "model", created: 0, owned_by: "openai" },
      ],
    });
    expect(modelListToJson([])).toStrictEqual({ object: "list", data: [] });
  });
});
