/**
 * The setup the OpenAI-surface tests share: the all-in-one gateway in front
 * of one mock OpenAI upstream and the native `mock` provider, with two API
 * keys of different model permissions. Model names equal the upstream's own,
 * so what the upstream receives can be compared with what the client sent.
 */
import { startAllInOne } from "./mesh.js";
import { startMockOpenAI, type MockOpenAI } from "./mock-openai-upstream.js";

/** The client keys: `all` may use every model, `limited` only the chat model. */
export const KEYS = { all: "sk-matrix-all-0123456789", limited: "sk-matrix-limited-0123456789" } as const;
/** The key the gateway uses upstream (the mock upstream checks it). */
export const UPSTREAM_KEY = "sk-matrix-upstream-0123456789";
/** Served by the mock OpenAI upstream under the same name. */
export const CHAT_MODEL = "gpt-4o-mini";
export const EMBED_MODEL = "text-embedding-3-small";
/** Served by adapter-custom's native mock protocol (upstream model `mock-1`). */
export const NATIVE_MODEL = "mock";

export interface Matrix {
  /** The mock OpenAI upstream behind the gateway. */
  readonly upstream: MockOpenAI;
  /** The gateway's origin, e.g. http://127.0.0.1:1234. */
  readonly url: string;
  /** The gateway's `/v1` base URL, as SDKs take it. */
  readonly baseURL: string;
  close(): Promise<void>;
}

/** Starts the mock upstream and the gateway (all services in this process). */
export async function startMatrix(): Promise<Matrix> {
  const upstream = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
  const config = `
providers:
  - { name: upstream, adapter: openai, base_url: "${upstream.url}", api_key: "\${MATRIX_UPSTREAM_KEY}" }
  - { name: native, adapter: custom, protocol: mock, options: { delay_ms: 0 } }
models:
  - name: ${CHAT_MODEL}
    routing: { retries: 0, timeout_ms: 20000 }
    targets: [{ provider: upstream, model: ${CHAT_MODEL} }]
  - name: ${EMBED_MODEL}
    routing: { retries: 0, timeout_ms: 20000 }
    targets: [{ provider: upstream, model: ${EMBED_MODEL} }]
  - name: ${NATIVE_MODEL}
    targets: [{ provider: native, model: mock-1 }]
keys:
  - { id: all, key: "\${MATRIX_KEY_ALL}" }
  - { id: limited, key: "\${MATRIX_KEY_LIMITED}", models: [${CHAT_MODEL}] }
server:
  body_limit_bytes: 262144
`;
  const env = { MATRIX_UPSTREAM_KEY: UPSTREAM_KEY, MATRIX_KEY_ALL: KEYS.all, MATRIX_KEY_LIMITED: KEYS.limited };
  // Policy resolves key references from the process environment.
  Object.assign(process.env, env);
  try {
    const host = await startAllInOne(config, env);
    return {
      upstream,
      url: host.url,
      baseURL: `${host.url}/v1`,
      async close() {
        await host.close(1000);
        await upstream.close();
      },
    };
  } catch (err) {
    await upstream.close();
    throw err;
  }
}

/** A copy without the fields that legitimately differ between two answers: ids and clocks. */
export function withoutIds<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === "id" || key === "created" ? undefined : v)) as T;
}
