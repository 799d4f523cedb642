import type { ConfigValidator } from "../config/config-applier.js";
import { ConfigApplier } from "../config/config-applier.js";
import { startConfigSource } from "../config/config-source.js";
import { InstanceState, instanceIdentity } from "../config/status.js";
import { portFromEnv } from "../env.js";
import { createLogger } from "../logger.js";
import type { Component } from "./component.js";
import { hostComponents, type Host } from "./host.js";
import { manageHeapGrowth } from "./heap-growth.js";

/** Where a process finds its config when LLMMESH_CONFIG is not set. */
export const DEFAULT_CONFIG_PATH = "config/llmmesh.yaml";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * Runs the given components as this process: config from the NATS bucket
 * (NATS_URL) or the LLMMESH_CONFIG file, applied live on every new revision;
 * HOST/PORT from the environment; a start-up summary on stdout; and a
 * graceful drain on SIGTERM/SIGINT. Every service's `main` and the
 * all-in-one launcher are this call with different components.
 */
export async function runProcess(components: readonly Component[], env: NodeJS.ProcessEnv = process.env): Promise<Host> {
  manageHeapGrowth(env);
  const names = components.map((c) => c.name).join("+");
  const logger = createLogger({ process: names });
  const state = new InstanceState(instanceIdentity(names));
  const applier = new ConfigApplier({ validate: componentValidator(components, env), state, logger });
  const source = await startConfigSource({
    env,
    configPath: env.LLMMESH_CONFIG || DEFAULT_CONFIG_PATH,
    configPathExplicit: Boolean(env.LLMMESH_CONFIG),
    applier,
    state,
    logger,
  });
  // In NATS mode without a usable revision yet, this waits (not listening: not ready).
  const config = await applier.ready();
  const host = env.HOST || "127.0.0.1";
  const port = portFromEnv("PORT", components[0]?.defaultPort ?? 0, env);

  const snapshot = config.current();
  const servesPolicy = components.some((c) => c.name === "policy");
  if (servesPolicy && snapshot.config.keys.length === 0 && !LOOPBACK.has(host)) {
    logger.warn("no API keys configured and listening beyond loopback: anyone who can reach this port may use every model", { host });
  }

  const running = await hostComponents({ components, config, logger, host, port, env, configControl: source.control });
  state.markReady(running.server.url);
  const summary = [
    `LLM Mesh ${names} listening on ${running.server.url}`,
    `  config ${snapshot.source} (revision ${snapshot.revision}), ${source.description}`,
    `  instance ${state.identity.instanceId}`,
  ];
  if (components.some((c) => c.name === "gateway")) {
    summary.push(`  OpenAI API: ${running.server.url}/v1`, `  models: ${[...snapshot.models.keys()].join(", ") || "(none)"}`);
  }
  summary.push(`  gRPC/Connect services: ${running.services.join(", ") || "(none)"}`);
  process.stdout.write(summary.join("\n") + "\n");

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("draining before exit", { signal });
    running
      .close(Number(env.LLMMESH_DRAIN_MS) || 10_000)
      .then(() => source.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error("shutdown failed", { error: String(err) });
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  return {
    ...running,
    async close(graceMs) {
      await running.close(graceMs);
      await source.close();
    },
  };
}

/** Every hosted component's own check of a revision, each problem prefixed with the component's name. */
export function componentValidator(components: readonly Component[], env: NodeJS.ProcessEnv): ConfigValidator {
  return (snapshot) => components.flatMap((c) => (c.validate?.(snapshot, env) ?? []).map((problem) => `${c.name}: ${problem}`));
}
