import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigStore, hostComponents, parseConfig, silentLogger, type Host } from "@llmmesh/common";
import { ALL_COMPONENTS } from "@llmmesh/launcher";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** All five services in this process, as `npm start` runs them, on a free port. */
export async function startAllInOne(configYaml: string, env: NodeJS.ProcessEnv = {}): Promise<Host & { url: string }> {
  const host = await hostComponents({
    components: ALL_COMPONENTS,
    config: new ConfigStore(parseConfig(configYaml)),
    logger: silentLogger,
    host: "127.0.0.1",
    port: 0,
    env: { ...process.env, ...env },
  });
  return Object.assign(host, { url: host.server.url });
}

/** A service running as its own OS process. */
export interface ServiceProcess {
  name: string;
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** Starts `node <entry>` and waits for its "listening on <url>" line. */
export async function startProcess(name: string, entry: string, env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(REPO, entry)], {
    cwd: REPO,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
  return { name, url, child, output: () => output };
}

/** Stops a process with SIGTERM (graceful drain) and waits for it to exit. */
export async function stopProcess(service: ServiceProcess): Promise<number | null> {
  if (service.child.exitCode !== null) return service.child.exitCode;
  const exited = new Promise<number | null>((resolve) => service.child.once("exit", (code) => resolve(code)));
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** The five services as five processes on free ports, wired by environment variables. */
export interface Mesh {
  gateway: ServiceProcess;
  router: ServiceProcess;
  policy: ServiceProcess;
  adapterOpenAI: ServiceProcess;
  adapterCustom: ServiceProcess;
  /** The config file every process follows (edits are applied live). */
  configPath: string;
  stop(): Promise<void>;
}

/** Starts the mesh: leaves first, so each service's dependencies are up before it is. */
export async function startMesh(configYaml: string, env: NodeJS.ProcessEnv = {}): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), "llmmesh-mesh-"));
  const configPath = join(dir, "config.yaml");
  await writeFile(configPath, configYaml);
  const base = { ...env, LLMMESH_CONFIG: configPath, PORT: "0", HOST: "127.0.0.1" };
  const started: ServiceProcess[] = [];
  const start = async (name: string, entry: string, extra: NodeJS.ProcessEnv = {}) => {
    const service = await startProcess(name, entry, { ...base, ...extra });
    started.push(service);
    return service;
  };
  try {
    const [policy, adapterOpenAI, adapterCustom] = await Promise.all([
      start("policy", "services/policy/dist/main.js"),
      start("adapter-openai", "services/adapter-openai/dist/main.js"),
      start("adapter-custom", "services/adapter-custom/dist/main.js"),
    ]);
    const router = await start("router", "services/router/dist/main.js", {
      LLMMESH_POLICY_URL: policy.url,
      LLMMESH_ADAPTER_OPENAI_URL: adapterOpenAI.url,
      LLMMESH_ADAPTER_CUSTOM_URL: adapterCustom.url,
    });
    const gateway = await start("gateway", "services/gateway/dist/main.js", { LLMMESH_ROUTER_URL: router.url });
    return {
      gateway,
      router,
      policy,
      adapterOpenAI,
      adapterCustom,
      configPath,
      async stop() {
        await Promise.all(started.map(stopProcess));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(started.map(stopProcess));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A running gateway, however the mesh behind it is deployed. */
export interface Deployment {
  /** The gateway's origin. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The two ways the mesh runs, for `describe.each`: all five services in this
 * process (`npm start`), and five processes talking real gRPC. `env` holds
 * the variables the config's `${VAR}` references name.
 */
export const DEPLOYMENTS: ReadonlyArray<readonly [mode: string, start: (configYaml: string, env: NodeJS.ProcessEnv) => Promise<Deployment>]> = [
  [
    "all-in-one",
    async (configYaml, env) => {
      const host = await startAllInOne(configYaml, env);
      return { url: host.url, stop: () => host.close(1000) };
    },
  ],
  [
    "mesh of separate processes",
    async (configYaml, env) => {
      const mesh = await startMesh(configYaml, env);
      return { url: mesh.gateway.url, stop: () => mesh.stop() };
    },
  ],
];
