import { z } from "zod";

/**
 * The config document's schema. Every object is strict: an unknown key is an
 * error naming its path, because a typo that silently does nothing is the
 * worst kind of config bug.
 */

const name = z.string().min(1).max(200).regex(/^[A-Za-z0-9._:/@-]+$/, "may hold only letters, digits and . _ : / @ -");
const url = z.string().url();
const positiveInt = z.number().int().positive();

export const providerSchema = z.strictObject({
  name,
  /** Which adapter deployable serves this provider (a key of `adapters`, or a built-in one). */
  adapter: z.string().min(1),
  /** The wire protocol inside that adapter; defaults to the adapter's own (openai → openai, custom → mock). */
  protocol: z.string().min(1).optional(),
  base_url: url.optional(),
  /** A literal key or a `${ENV_VAR}` reference, resolved only by the adapter that uses it. */
  api_key: z.string().optional(),
  /** Extra headers sent upstream; values may be `${ENV_VAR}` references. */
  headers: z.record(z.string(), z.string()).optional(),
  timeout_ms: positiveInt.optional(),
  /** Protocol-specific settings (for the mock: `delay_ms`, `reply`). */
  options: z.record(z.string(), z.unknown()).optional(),
});

export const targetSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1),
});

export const routingSchema = z.strictObject({
  strategy: z.enum(["priority"]).default("priority"),
  /** Extra attempts per target after the first, on retryable failures. */
  retries: z.number().int().min(0).max(10).default(2),
  /** Deadline for the whole request, all attempts included. */
  timeout_ms: positiveInt.default(60_000),
  /** First retry delay; doubled each attempt, with jitter. */
  backoff_ms: z.number().int().min(0).default(100),
});

export const modelSchema = z.strictObject({
  name,
  routing: routingSchema.default({ strategy: "priority", retries: 2, timeout_ms: 60_000, backoff_ms: 100 }),
  targets: z.array(targetSchema).min(1),
  /** Shown as `owned_by` in /v1/models. */
  owned_by: z.string().optional(),
});

export const keySchema = z
  .strictObject({
    id: name,
    /** A literal key or `${ENV_VAR}`. */
    key: z.string().min(1).optional(),
    /** Hex SHA-256 of the key, so the document never holds it. */
    key_sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits").optional(),
    tenant: z.string().min(1).default("default"),
    /** Models this key may use; absent means all. */
    models: z.array(z.string().min(1)).optional(),
    limits: z
      .strictObject({
        rpm: positiveInt.optional(),
        tpm: positiveInt.optional(),
      })
      .optional(),
  })
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), {
    message: "exactly one of key and key_sha256 is required",
  });

export const serverSchema = z.strictObject({
  /** Largest request body the REST edge accepts. */
  body_limit_bytes: positiveInt.default(10 * 1024 * 1024),
  /** Largest message an internal RPC accepts or sends. */
  rpc_max_bytes: positiveInt.default(32 * 1024 * 1024),
});

export const configSchema = z.strictObject({
  providers: z.array(providerSchema).default([]),
  models: z.array(modelSchema).default([]),
  keys: z.array(keySchema).default([]),
  services: z
    .strictObject({
      router: url.optional(),
      policy: url.optional(),
    })
    .default({}),
  /** Adapter deployables by name, for mesh mode. */
  adapters: z.record(z.string(), url).default({}),
  server: serverSchema.default({ body_limit_bytes: 10 * 1024 * 1024, rpc_max_bytes: 32 * 1024 * 1024 }),
});

/** The validated config document, defaults applied. */
export type MeshConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;

/** Adapter names every deployment knows without an `adapters` entry. */
export const BUILTIN_ADAPTERS = ["openai", "custom"] as const;
