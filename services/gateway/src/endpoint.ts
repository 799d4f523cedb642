import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { ConfigStore, Logger } from "@llmmesh/common";
import type { ApiError } from "./api-error.js";
import { OPENAI_DIALECT, type Dialect } from "./dialect.js";
import { parseJsonObject, readBody, RequestTooLargeError, type JsonObject } from "./body.js";
import { mapError, redact } from "./errors.js";
import type { GatewayRequest, GatewayResponse } from "./http.js";
import type { RequestContext } from "./request-context.js";
import { writeApiError, writeJson } from "./response.js";
import { writeEventStream } from "./sse.js";

/** Decoded path parameters, e.g. `{ id }` for /v1/models/{id}. */
export type PathParams = Readonly<Record<string, string>>;

/** What an endpoint's `parse` step sees. */
export interface EndpointInput {
  /** The JSON object body; empty for endpoints that read none. */
  readonly body: JsonObject;
  readonly params: PathParams;
  /** The request headers (Anthropic's `anthropic-version`, for one). */
  readonly headers: IncomingHttpHeaders;
}

/** What an endpoint answers with on success; the factory does the writing. */
export type Reply =
  | { readonly kind: "json"; readonly body: unknown; readonly headers?: OutgoingHttpHeaders }
  | {
      readonly kind: "events";
      /** Each value becomes one SSE event, in order, framed by the endpoint's dialect. */
      readonly events: AsyncIterable<Record<string, unknown>>;
      readonly headers?: OutgoingHttpHeaders;
    };

/**
 * One REST endpoint as its three steps. Each step may throw: a WireError,
 * an ApiError or a ConnectError all end as the right error response, in
 * the envelope of the endpoint's dialect.
 */
export interface EndpointSpec<Parsed, Result> {
  /** Whether the request carries a JSON object body to read (within the body limit) and parse. */
  readonly readsBody: boolean;
  /** The client API whose error envelope and stream framing to use; OpenAI's when absent. */
  readonly dialect?: Dialect;
  /** JSON → llmmesh.v1 request (validation happens here). */
  parse(input: EndpointInput): Parsed;
  /** The router call; `ctx.callOptions` carries the request id, credentials and cancellation. */
  call(parsed: Parsed, ctx: RequestContext): Promise<Result>;
  /** llmmesh.v1 answer → what the client receives (`ctx` for headers that depend on the request, such as timing). */
  render(result: Result, parsed: Parsed, ctx: RequestContext): Reply;
}

/** A ready-to-serve endpoint. Never rejects: every failure has been answered. */
export type Endpoint = (req: GatewayRequest, res: GatewayResponse, ctx: RequestContext, params: PathParams) => Promise<void>;

/** What every endpoint needs besides its own dependencies. */
export interface EndpointEnv {
  readonly config: ConfigStore;
  readonly logger: Logger;
}

const NO_BODY: JsonObject = Object.freeze({});

/**
 * The one handler factory of the REST edge: read → parse → call → render,
 * and every failure through the same error mapping, whatever the endpoint.
 * Endpoints only say how to translate; they never write to the response.
 */
export function createEndpoint<Parsed, Result>(spec: EndpointSpec<Parsed, Result>, env: EndpointEnv): Endpoint {
  const dialect = spec.dialect ?? OPENAI_DIALECT;
  // Promise steps, not an async function: a suspended frame of its own would
  // stay for as long as a stream lasts (writeEventStream's is enough).
  return (req, res, ctx, params) => {
    const answer = (reply: Reply): Promise<void> | void => {
      if (reply.kind === "json") return writeJson(res, ctx, 200, reply.body, reply.headers, dialect);
      return writeEventStream(res, ctx, reply.events, reply.headers, (err) => reportError(err, ctx, env.logger), dialect);
    };
    return replyTo(spec, env, req, ctx, params)
      .then(answer)
      .catch((err: unknown) => respondWithError(res, ctx, err, env.logger, dialect));
  };
}

/**
 * Read → parse → call → render, in a frame of its own: the endpoint then
 * waits on a stream for as long as it lasts, and the request's body and
 * parsed form in its frame would stay reachable all that time.
 */
async function replyTo<Parsed, Result>(spec: EndpointSpec<Parsed, Result>, env: EndpointEnv, req: GatewayRequest, ctx: RequestContext, params: PathParams): Promise<Reply> {
  let body = NO_BODY;
  if (spec.readsBody) {
    // The limit is read per request so a config reload applies to the next one.
    const limit = env.config.current().config.server.body_limit_bytes;
    body = parseJsonObject(await readBody(req, limit, ctx.signal), req.headers["content-type"]);
  }
  const parsed = spec.parse({ body, params, headers: req.headers });
  return spec.render(await spec.call(parsed, ctx), parsed, ctx);
}

/**
 * Answers a failed request with its error in the dialect's envelope, or,
 * when that is no longer possible (client gone, headers already sent), just ends it.
 */
export function respondWithError(
  res: GatewayResponse,
  ctx: RequestContext,
  err: unknown,
  logger: Logger,
  dialect: Dialect = OPENAI_DIALECT,
): void {
  const error = reportError(err, ctx, logger);
  if (ctx.clientGone || res.headersSent) {
    ctx.markEnded();
    res.end();
    return;
  }
  writeApiError(res, ctx, error, err instanceof RequestTooLargeError && err.closeConnection, dialect);
}

/** Maps an error for the client and logs server-side failures (id, status and cause; never bodies or keys). */
function reportError(err: unknown, ctx: RequestContext, logger: Logger): ApiError {
  const { error, cause } = mapError(err, ctx.requestId, ctx.apiKey);
  if (error.status >= 500 && !ctx.clientGone) {
    const fields = {
      requestId: ctx.requestId,
      method: ctx.method,
      path: ctx.path,
      status: error.status,
      code: error.code,
      cause: cause === undefined ? undefined : redact(cause, ctx.apiKey),
    };
    // A 500 is our own bug; 502-504 are upstreams or peers misbehaving.
    if (error.status === 500) logger.error("request failed", fields);
    else logger.warn("request failed", fields);
  }
  return error;
}
