import { instanceJson, pushResultJson, revisionJson, type ConfigControl, type PushOptions } from "@llmmesh/common";
import { ApiError } from "../api-error.js";
import type { JsonObject } from "../body.js";
import { createEndpoint, type Endpoint, type EndpointEnv, type EndpointSpec, type PathParams } from "../endpoint.js";
import { writeApiError } from "../response.js";
import { adminKeyMatches } from "./admin-auth.js";
import { adminDisabled, adminKeyInvalid, noConfigStore, toAdminError } from "./admin-errors.js";

/** What the admin API needs. */
export interface AdminDeps {
  /** The config operations; undefined when this gateway reads a local file instead of NATS. */
  control?: ConfigControl;
  /** LLMMESH_ADMIN_KEY; unset or empty disables the admin API. */
  key?: string;
}

type Methods = Readonly<Partial<Record<string, Endpoint>>>;

/** The admin routes, for the gateway's router. */
export interface AdminRoutes {
  route(path: string): { methods: Methods; params: PathParams } | undefined;
}

/** Default and longest wait for the fleet to report a pushed revision. */
const DEFAULT_WAIT_MS = 5_000;
const MAX_WAIT_MS = 30_000;

const REVISION_PREFIX = "/admin/config/revisions/";
const NO_PARAMS: PathParams = {};

/**
 * The config operations of `llmmesh` over HTTP, for those who prefer it,
 * protected by the admin key (`Authorization: Bearer $LLMMESH_ADMIN_KEY`):
 *
 *   GET  /admin/config                 current revision, with its document
 *   GET  /admin/config/revisions/{n}   revision n
 *   GET  /admin/config/history         stored revisions (no documents)
 *   POST /admin/config/validate        {document} → {valid, digest, problems}
 *   POST /admin/config                 {document, note?, dry_run?, force?, allow_literal_secrets?, wait_ms?}: push
 *   POST /admin/config/rollback        {revision, note?, dry_run?, force?, wait_ms?}
 *   GET  /admin/status                 every live instance
 *
 * Answers are the same JSON as `llmmesh --json`; errors keep the OpenAI
 * envelope, with `problems` (each naming a config path) when there are some.
 */
export function createAdminRoutes(deps: AdminDeps, env: EndpointEnv): AdminRoutes {
  const control = (): ConfigControl => {
    if (!deps.control) throw noConfigStore();
    return deps.control;
  };
  const endpoint = <P, R>(spec: EndpointSpec<P, R>): Endpoint => guard(deps, createEndpoint(adminSpec(spec), env));

  const exact = new Map<string, Methods>([
    [
      "/admin/config",
      {
        GET: endpoint({
          readsBody: false,
          parse: () => undefined,
          call: async () => control().current(),
          render: (stored) => {
            if (!stored) throw new ApiError(404, "The config bucket is empty", "invalid_request_error", "config_empty");
            return { kind: "json", body: revisionJson(stored) };
          },
        }),
        POST: endpoint({
          readsBody: true,
          parse: ({ body }) => ({ document: requiredString(onlyFields(body, ["document", ...PUSH_FIELDS]), "document"), options: pushOptions(body) }),
          call: ({ document, options }) => control().push(document, options, "(admin API)"),
          render: (result) => ({ kind: "json", body: pushResultJson(result) }),
        }),
      },
    ],
    [
      "/admin/config/history",
      {
        GET: endpoint({
          readsBody: false,
          parse: () => undefined,
          call: async () => control().history(),
          render: (revisions) => ({ kind: "json", body: { revisions: revisions.map((r) => revisionJson(r, false)) } }),
        }),
      },
    ],
    [
      "/admin/config/validate",
      {
        POST: endpoint({
          readsBody: true,
          parse: ({ body }) => ({
            document: requiredString(onlyFields(body, ["document", "allow_literal_secrets"]), "document"),
            allow: optionalBoolean(body, "allow_literal_secrets"),
          }),
          call: async ({ document, allow }) => control().validate(document, { allowLiteralSecrets: allow, source: "(admin API)" }),
          render: (problems) => ({ kind: "json", body: { valid: problems.length === 0, problems } }),
        }),
      },
    ],
    [
      "/admin/config/rollback",
      {
        POST: endpoint({
          readsBody: true,
          parse: ({ body }) => ({ revision: requiredRevision(onlyFields(body, ["revision", ...PUSH_FIELDS]).revision, "revision"), options: pushOptions(body) }),
          call: ({ revision, options }) => control().rollback(revision, options),
          render: (result) => ({ kind: "json", body: pushResultJson(result) }),
        }),
      },
    ],
    [
      "/admin/status",
      {
        GET: endpoint({
          readsBody: false,
          parse: () => undefined,
          call: async () => control().status(),
          render: (instances) => ({ kind: "json", body: { instances: instances.map(instanceJson) } }),
        }),
      },
    ],
  ]);
  const byRevision: Methods = {
    GET: endpoint({
      readsBody: false,
      parse: ({ params }) => requiredRevision(/^[0-9]+$/.test(params.revision ?? "") ? Number(params.revision) : Number.NaN, "revision"),
      call: (revision) => control().revision(revision),
      render: (stored, revision) => {
        if (!stored) throw new ApiError(404, `Revision ${revision} is not in the bucket's history`, "invalid_request_error", "revision_not_found");
        return { kind: "json", body: revisionJson(stored) };
      },
    }),
  };

  return {
    route(path): { methods: Methods; params: PathParams } | undefined {
      const methods = exact.get(path);
      if (methods) return { methods, params: NO_PARAMS };
      if (path.startsWith(REVISION_PREFIX) && path.length > REVISION_PREFIX.length) {
        return { methods: byRevision, params: { revision: path.slice(REVISION_PREFIX.length) } };
      }
      return undefined;
    },
  };
}

/** Admin key first, before any body is read; then the store. */
function guard(deps: AdminDeps, endpoint: Endpoint): Endpoint {
  return async (req, res, ctx, params) => {
    if (!deps.key) return writeApiError(res, ctx, adminDisabled());
    if (!adminKeyMatches(ctx.apiKey, deps.key)) return writeApiError(res, ctx, adminKeyInvalid());
    return endpoint(req, res, ctx, params);
  };
}

/** The config errors of `call` as admin answers (400 with problems, 409, 503). */
function adminSpec<P, R>(spec: EndpointSpec<P, R>): EndpointSpec<P, R> {
  return {
    ...spec,
    call: async (parsed, ctx) => {
      try {
        return await spec.call(parsed, ctx);
      } catch (err) {
        throw toAdminError(err);
      }
    },
  };
}

/** The body fields every storing operation accepts besides its own. */
const PUSH_FIELDS = ["author", "note", "dry_run", "force", "allow_literal_secrets", "wait_ms"] as const;

/** Refuses a field the operation does not know: a typo like `dryRun` must not store a config for real. */
function onlyFields(body: JsonObject, allowed: readonly string[]): JsonObject {
  for (const field of Object.keys(body)) {
    if (!allowed.includes(field)) {
      throw ApiError.invalidRequest(`Unknown field '${field}'; this operation accepts: ${allowed.join(", ")}`, "unknown_field", field);
    }
  }
  return body;
}

function pushOptions(body: JsonObject): PushOptions {
  const author = optionalString(body, "author");
  const waitMs = body.wait_ms === undefined ? DEFAULT_WAIT_MS : body.wait_ms;
  if (typeof waitMs !== "number" || !Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_WAIT_MS) {
    throw ApiError.invalidRequest(`wait_ms must be an integer from 0 to ${MAX_WAIT_MS}`, "invalid_value", "wait_ms");
  }
  return {
    author: author ? `${author} (admin API)` : "admin API",
    note: optionalString(body, "note"),
    dryRun: optionalBoolean(body, "dry_run"),
    skipFleetCheck: optionalBoolean(body, "force"),
    allowLiteralSecrets: optionalBoolean(body, "allow_literal_secrets"),
    waitMs,
  };
}

function requiredString(body: JsonObject, field: string): string {
  const value = body[field];
  if (typeof value !== "string" || value === "") throw ApiError.invalidRequest(`${field} is required: a string`, "invalid_value", field);
  return value;
}

function optionalString(body: JsonObject, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw ApiError.invalidRequest(`${field} must be a string`, "invalid_type", field);
  return value;
}

function optionalBoolean(body: JsonObject, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw ApiError.invalidRequest(`${field} must be true or false`, "invalid_type", field);
  return value;
}

function requiredRevision(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw ApiError.invalidRequest(`${field} must be a revision number (a positive integer)`, "invalid_value", field);
  }
  return value;
}
