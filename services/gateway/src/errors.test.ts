import { Code, ConnectError } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";
import { WireError } from "@llmmesh/openai-wire";
import { describe, expect, it } from "vitest";
import { ApiError } from "./api-error.js";
import { mapError } from "./errors.js";

const REQUEST_ID = "req-1";

describe("mapError", () => {
  it.each([
    ["invalid argument", meshError(Code.InvalidArgument, "bad temperature", { reason: Reason.InvalidRequest, param: "temperature" }), 400, "invalid_request_error", null, "temperature"],
    ["upstream's own 400 code", meshError(Code.InvalidArgument, "too long", { reason: Reason.UpstreamError, upstreamStatus: 400, upstreamCode: "context_length_exceeded" }), 400, "invalid_request_error", "context_length_exceeded", null],
    ["missing key", meshError(Code.Unauthenticated, "no key", { reason: Reason.MissingApiKey }), 401, "authentication_error", "missing_api_key", null],
    ["bad key", meshError(Code.Unauthenticated, "bad key", { reason: Reason.InvalidApiKey }), 401, "authentication_error", "invalid_api_key", null],
    ["model not allowed", meshError(Code.PermissionDenied, "no", { reason: Reason.ModelNotAllowed }), 403, "permission_error", "model_not_allowed", null],
    ["unknown model", meshError(Code.NotFound, "no such model", { reason: Reason.ModelNotFound, param: "model" }), 404, "invalid_request_error", "model_not_found", "model"],
    ["rate limited", meshError(Code.ResourceExhausted, "slow down", { reason: Reason.RateLimited, retryAfterMs: 1500n }), 429, "rate_limit_error", "rate_limit_exceeded", null],
    ["too large", meshError(Code.ResourceExhausted, "too big", { reason: "request_too_large" }), 413, "invalid_request_error", "request_too_large", null],
    ["upstream 413", meshError(Code.ResourceExhausted, "too big", { reason: Reason.UpstreamError, upstreamStatus: 413 }), 413, "invalid_request_error", "request_too_large", null],
    ["deadline", meshError(Code.DeadlineExceeded, "slow upstream", { reason: Reason.UpstreamTimeout }), 504, "api_error", "upstream_timeout", null],
    ["unavailable", meshError(Code.Unavailable, "no targets", { reason: Reason.UpstreamUnavailable }), 503, "api_error", "upstream_unavailable", null],
    ["upstream 502", meshError(Code.Unavailable, "bad gateway", { reason: Reason.UpstreamError, upstreamStatus: 502 }), 502, "api_error", "upstream_error", null],
    ["upstream 500", meshError(Code.Internal, "upstream broke", { reason: Reason.UpstreamError, upstreamStatus: 500, upstreamCode: "server_error" }), 500, "api_error", "upstream_error", null],
    ["upstream 503", meshError(Code.Unavailable, "overloaded", { reason: Reason.UpstreamError, upstreamStatus: 503 }), 503, "api_error", "upstream_error", null],
    ["upstream 520", meshError(Code.Internal, "odd status", { reason: Reason.UpstreamError, upstreamStatus: 520 }), 502, "api_error", "upstream_error", null],
    ["upstream 401 (the mesh's own key refused)", meshError(Code.Internal, "provider misconfigured", { reason: Reason.UpstreamError, upstreamStatus: 401 }), 502, "api_error", "upstream_error", null],
    ["upstream 422", meshError(Code.InvalidArgument, "unprocessable", { reason: Reason.UpstreamError, upstreamStatus: 422 }), 422, "invalid_request_error", null, null],
    ["upstream broke without a status", meshError(Code.Internal, "Provider 'p' ended the stream without sending anything.", { reason: Reason.UpstreamError, provider: "p" }), 502, "api_error", "upstream_error", null],
    ["upstream 409", meshError(Code.Aborted, "conflict upstream", { reason: Reason.UpstreamError, upstreamStatus: 409 }), 409, "invalid_request_error", "conflict", null],
    ["unimplemented", meshError(Code.Unimplemented, "no audio", { reason: Reason.UnsupportedFeature }), 501, "invalid_request_error", "unsupported_feature", null],
    ["canceled", new ConnectError("gone", Code.Canceled), 499, "invalid_request_error", "request_canceled", null],
    ["no detail", new ConnectError("who knows", Code.PermissionDenied), 403, "permission_error", "permission_denied", null],
  ])("%s", (_, err, status, type, code, param) => {
    const { error } = mapError(err, REQUEST_ID);
    expect(error.toEnvelope()).toEqual({ error: { message: (err as ConnectError).rawMessage, type, code, param } });
    expect(error.status).toBe(status);
  });

  it("sets Retry-After in whole seconds, rounded up, and retry-after-ms exactly", () => {
    const { error } = mapError(meshError(Code.ResourceExhausted, "wait", { reason: Reason.RateLimited, retryAfterMs: 1500n }), REQUEST_ID);
    expect(error.headers).toEqual({ "retry-after": "2", "retry-after-ms": "1500" });
  });

  it("tells how many upstream attempts a failed request took", () => {
    const failed = meshError(Code.Unavailable, "all targets failed", { reason: Reason.UpstreamError, upstreamStatus: 503, attempts: 3 });
    expect(mapError(failed, REQUEST_ID).error.headers).toEqual({ "x-llmmesh-attempts": "3" });
    const refused = meshError(Code.NotFound, "no such model", { reason: Reason.ModelNotFound });
    expect(mapError(refused, REQUEST_ID).error.headers).toEqual({});
  });

  it("uses the raw message, without Connect's [code] prefix", () => {
    const { error } = mapError(meshError(Code.NotFound, "model 'x' not found", { reason: Reason.ModelNotFound }), REQUEST_ID);
    expect(error.message).toBe("model 'x' not found");
  });

  it.each([
    ["a plain Error", new Error("TypeError at secret.ts:12")],
    ["an internal ConnectError", new ConnectError("db password wrong", Code.Internal)],
    ["an unknown ConnectError", new ConnectError("oops", Code.Unknown)],
    ["a service's own misconfiguration", meshError(Code.FailedPrecondition, 'provider "x" has no base_url', { reason: "provider_misconfigured" })],
    ["a thrown string", "boom"],
  ])("answers %s with a generic 500 that names only the request id", (_, err) => {
    const { error, cause } = mapError(err, REQUEST_ID);
    expect(error.status).toBe(500);
    expect(error.toEnvelope().error).toEqual({
      message: `The server had an error while processing your request. Request id: ${REQUEST_ID}`,
      type: "api_error",
      param: null,
      code: "internal_error",
    });
    expect(cause).toBeDefined();
  });

  it("turns a WireError into a 400 naming its param", () => {
    const { error } = mapError(new WireError("messages[0].role must be a string", "messages[0].role"), REQUEST_ID);
    expect(error.status).toBe(400);
    expect(error.toEnvelope().error).toEqual({
      message: "messages[0].role must be a string",
      type: "invalid_request_error",
      param: "messages[0].role",
      code: null,
    });
  });

  it("passes an ApiError through unchanged", () => {
    const original = ApiError.invalidRequest("nope", "invalid_json");
    expect(mapError(original, REQUEST_ID).error).toBe(original);
  });

  it("scrubs the caller's key from messages", () => {
    const key = "sk-test-0123456789abcdef";
    const { error } = mapError(meshError(Code.Unauthenticated, `key ${key} is revoked`, { reason: Reason.InvalidApiKey }), REQUEST_ID, key);
    expect(error.message).toBe("key *** is revoked");
  });
});
