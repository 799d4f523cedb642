import type { Client } from "@connectrpc/connect";
import type { ConfigStore, HttpHandler, Logger } from "@llmmesh/common";
import type { RouterService } from "@llmmesh/proto";
import { createAdminRoutes, type AdminDeps } from "./admin/admin-routes.js";
import { ApiError, ErrorType } from "./api-error.js";
import { writePreflight } from "./cors.js";
import { dialectForPath } from "./dialect.js";
import { createEndpoint, respondWithError, type Endpoint, type EndpointEnv, type PathParams } from "./endpoint.js";
import type { GatewayRequest, GatewayResponse } from "./http.js";
import { RequestContext } from "./request-context.js";
import { writeApiError } from "./response.js";
import { chatCompletions } from "./routes/chat.js";
import { completions } from "./routes/completions.js";
import { embeddings } from "./routes/embeddings.js";
import { health } from "./routes/health.js";
import { countTokens, messages } from "./routes/messages.js";
import { listModels, retrieveModel } from "./routes/models.js";

/** What the REST edge needs: the router to call, the config (body limit, revision) and a logger. */
export interface GatewayDeps {
  router: Client<typeof RouterService>;
  config: ConfigStore;
  logger: Logger;
  /** The admin API's config operations and key (/admin/...); absent: it answers that it is disabled. */
  admin?: AdminDeps;
}

type Methods = Readonly<Partial<Record<string, Endpoint>>>;

/** Longest path echoed back in an "unknown URL" message. */
const MAX_ECHOED_PATH = 200;

/**
 * The REST edge as one `(req, res)` handler: OpenAI's routes under /v1,
 * Anthropic's /v1/messages, /healthz, CORS, request ids, and errors shaped
 * like the API the path belongs to for anything else.
 * Works on node:http and http2-compat requests alike, so it can be the
 * `fallback` of `startServer` and share the RPC port.
 */
export function createGatewayHandler(deps: GatewayDeps): HttpHandler {
  const env: EndpointEnv = { config: deps.config, logger: deps.logger };
  const exact = new Map<string, Methods>([
    ["/v1/chat/completions", { POST: createEndpoint(chatCompletions(deps.router), env) }],
    ["/v1/completions", { POST: createEndpoint(completions(deps.router), env) }],
    ["/v1/embeddings", { POST: createEndpoint(embeddings(deps.router), env) }],
    ["/v1/messages", { POST: createEndpoint(messages(deps.router), env) }],
    ["/v1/messages/count_tokens", { POST: createEndpoint(countTokens(deps.router), env) }],
    ["/v1/models", { GET: createEndpoint(listModels(deps.router), env) }],
    ["/healthz", { GET: createEndpoint(health(deps.config), env) }],
  ]);
  // Model ids may contain '/' and ':' (`org/model:tag`), so the id is the whole rest of the path.
  const modelPrefix = "/v1/models/";
  const modelById: Methods = { GET: createEndpoint(retrieveModel(deps.router), env) };
  const admin = createAdminRoutes(deps.admin ?? {}, env);

  const route = (path: string): { methods: Methods; params: PathParams } | undefined => {
    const methods = exact.get(path);
    if (methods) return { methods, params: {} };
    if (path.startsWith(modelPrefix) && path.length > modelPrefix.length) {
      return { methods: modelById, params: { id: decodePathSegment(path.slice(modelPrefix.length)) } };
    }
    return admin.route(path);
  };

  // Not an async function: a suspended frame of its own would stay for as
  // long as a stream lasts. An endpoint's promise carries its own failure.
  const serve = (req: GatewayRequest, res: GatewayResponse): Promise<void> | void => {
    const ctx = new RequestContext(req, res);
    try {
      if (ctx.method === "OPTIONS") return writePreflight(req, res, ctx);
      const match = route(ctx.path);
      if (!match) return writeApiError(res, ctx, unknownUrl(ctx.method, ctx.path), false, dialectForPath(ctx.path));
      const endpoint = match.methods[ctx.method];
      if (!endpoint) {
        const error = methodNotAllowed(ctx.method, ctx.path, Object.keys(match.methods));
        return writeApiError(res, ctx, error, false, dialectForPath(ctx.path));
      }
      return endpoint(req, res, ctx, match.params).catch((err: unknown) => respondWithError(res, ctx, err, deps.logger));
    } catch (err) {
      respondWithError(res, ctx, err, deps.logger);
    }
  };

  // Only reachable if writing the error response itself failed (say, on a
  // stream that died underneath us): log it and make sure nothing hangs.
  const lastResort = (res: GatewayResponse, err: unknown) => {
    deps.logger.error("could not answer request", { cause: err instanceof Error ? err.message : String(err) });
    try {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    } catch {
      // The response is beyond saving: closing it is the only answer left
      // (left open, the client would wait for as long as its own timeout).
      res.destroy();
    }
  };

  return (req, res) => {
    try {
      serve(req, res)?.catch((err: unknown) => lastResort(res, err));
    } catch (err) {
      lastResort(res, err);
    }
  };
}

function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw ApiError.invalidRequest("The URL path is not valid percent-encoding", "invalid_url");
  }
}

function unknownUrl(method: string, path: string): ApiError {
  const shown = path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}...` : path;
  return new ApiError(404, `Unknown request URL: ${method} ${shown}`, ErrorType.InvalidRequest, "unknown_url");
}

function methodNotAllowed(method: string, path: string, allowed: readonly string[]): ApiError {
  return new ApiError(405, `Method ${method} is not allowed for ${path}`, ErrorType.InvalidRequest, "method_not_allowed", null, {
    allow: [...allowed, "OPTIONS"].join(", "),
  });
}
