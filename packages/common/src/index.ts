/** Shared building blocks of every LLM Mesh service. */
export { configSchema, BUILTIN_ADAPTERS } from "./config/schema.js";
export type { MeshConfig, ProviderConfig, ModelConfig, TargetConfig, KeyConfig, RoutingConfig } from "./config/schema.js";
export { parseConfig, loadConfigFile, ConfigError, formatPath } from "./config/load.js";
export { ConfigSnapshot } from "./config/snapshot.js";
export { ConfigStore } from "./config/store.js";
export { resolveSecret } from "./config/secrets.js";
export { meshError, errorDetailOf, codeForUpstreamStatus, Reason } from "./errors.js";
export type { ErrorDetailInit } from "./errors.js";
export { Header, bearerToken } from "./headers.js";
export { createLogger, silentLogger } from "./logger.js";
export type { Logger, LogLevel } from "./logger.js";
export { startServer } from "./server.js";
export type { ServeOptions, RunningServer, HttpHandler } from "./server.js";
export { createServiceTransport, serviceClient } from "./clients.js";
export type { TransportOptions } from "./clients.js";
export { portFromEnv } from "./env.js";
