import { readFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { parseArgs } from "node:util";
import {
  ConfigConflictError,
  ConfigControl,
  ConfigError,
  ConfigRefusedError,
  DEFAULT_NATS_PREFIX,
  connectClient,
  instanceJson,
  natsNames,
  pushResultJson,
  revisionJson,
  type PushOptions,
  type PushResult,
} from "@llmmesh/common";
import type { NatsConnection } from "nats";
import { historyTable, rolloutSummary, statusTable } from "./format.js";

/** Exit codes: scripts tell "bad document" from "NATS down" from "the fleet did not follow". */
export const ExitCode = {
  Ok: 0,
  /** Usage errors, NATS unreachable, a concurrent push, a missing revision. */
  Error: 1,
  /** The document is invalid, or live instances would refuse it: nothing stored. */
  Invalid: 2,
  /** Stored, but some instance refused it or did not report in time. */
  Incomplete: 3,
} as const;

/** Where the CLI writes and what it reads; injectable for tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Reads a document; "-" is stdin. */
  read(path: string): Promise<string>;
}

const USAGE = `Usage: llmmesh <command> [options]

Commands:
  config validate FILE        check a config document (schema, references, literal secrets)
  config push FILE            validate, check with every live instance, show the diff, store, wait for the rollout
  config show [--revision N]  print the current (or revision N's) document; details on stderr
  config history              list the stored revisions
  config rollback N           store revision N's document again as the newest revision
  status                      list every live instance: service, instance, version, revision, since, last error

Options:
  --nats URL                  NATS server(s), comma-separated (default: NATS_URL, else nats://127.0.0.1:4222)
  --prefix NAME               NATS names prefix (default: LLMMESH_NATS_PREFIX, else ${DEFAULT_NATS_PREFIX})
  --json                      machine-readable output (show, history, status, push, rollback)
  -m, --note TEXT             push/rollback: why, recorded with the revision
  --dry-run                   push/rollback: validate, check and diff; store nothing
  --force                     push/rollback: skip asking the live instances first
  --if-empty                  push: store only if the bucket is empty (initial seed)
  --allow-literal-secrets     push: store api keys written literally (default: refuse; use \${ENV_VAR})
  --wait SECONDS              push/rollback: wait for every instance to report (default 5; 0: do not wait)
  -h, --help                  this text

Exit codes: 0 ok, 1 error, 2 invalid or refused (nothing stored), 3 stored but not applied everywhere.
`;

const OPTIONS = {
  nats: { type: "string" },
  prefix: { type: "string" },
  json: { type: "boolean" },
  note: { type: "string", short: "m" },
  "dry-run": { type: "boolean" },
  force: { type: "boolean" },
  "if-empty": { type: "boolean" },
  "allow-literal-secrets": { type: "boolean" },
  wait: { type: "string" },
  revision: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parse>["values"];

function parse(args: readonly string[]) {
  return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
}

class UsageError extends Error {}

/** Runs one CLI invocation; resolves with the exit code. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    io.err(`llmmesh: ${(err as Error).message}\n\n${USAGE}`);
    return ExitCode.Error;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? ExitCode.Ok : ExitCode.Error;
  }
  try {
    return await dispatch(positionals, values, io);
  } catch (err) {
    return reportFailure(err, io);
  }
}

async function dispatch(positionals: readonly string[], values: Values, io: CliIo): Promise<number> {
  const [group, command, ...rest] = positionals;
  if (group === "status" && command === undefined) return withControl(values, io, (control) => status(control, values, io));
  if (group !== "config") throw new UsageError(`unknown command "${positionals.join(" ")}"`);
  switch (command) {
    case "validate":
      return validate(one(rest, "FILE"), values, io);
    case "push": {
      const file = one(rest, "FILE");
      const document = await io.read(file);
      const options = pushOptions(values, io);
      return withControl(values, io, (control) => push(control, document, file, options, values, io));
    }
    case "show":
      none(rest);
      return withControl(values, io, (control) => show(control, values, io));
    case "history":
      none(rest);
      return withControl(values, io, (control) => history(control, values, io));
    case "rollback": {
      const revision = revisionNumber(one(rest, "N"));
      // Options are checked before connecting: a bad flag is reported at once, not after NATS answers.
      const options = pushOptions(values, io);
      return withControl(values, io, (control) => rollback(control, revision, options, values, io));
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(" ")}"`);
  }
}

async function validate(file: string, values: Values, io: CliIo): Promise<number> {
  const document = await io.read(file);
  // Validation is local: no NATS needed. The prefix only matters for names, not rules.
  const control = new ConfigControl(() => undefined, natsNames(DEFAULT_NATS_PREFIX));
  const problems = control.validate(document, { allowLiteralSecrets: values["allow-literal-secrets"], source: file });
  if (problems.length > 0) {
    io.err(`${file}: invalid config\n${problems.map((p) => `  - ${p}\n`).join("")}`);
    return ExitCode.Invalid;
  }
  io.out(`${file}: valid\n`);
  return ExitCode.Ok;
}

async function push(control: ConfigControl, document: string, file: string, options: PushOptions, values: Values, io: CliIo): Promise<number> {
  const result = await control.push(document, options, file);
  return reportPush(result, file, values, io);
}

async function rollback(control: ConfigControl, revision: number, options: PushOptions, values: Values, io: CliIo): Promise<number> {
  const result = await control.rollback(revision, options);
  return reportPush(result, `revision ${revision}`, values, io);
}

/** Longest --wait accepted: beyond it a timer would overflow (and no rollout takes an hour). */
const MAX_WAIT_SECONDS = 3600;

function pushOptions(values: Values, io: CliIo): PushOptions {
  if (values.wait !== undefined && !/^\d+(\.\d+)?$/.test(values.wait)) throw new UsageError(`--wait: expected seconds, got "${values.wait}"`);
  const waitSeconds = values.wait === undefined ? 5 : Number(values.wait);
  if (waitSeconds > MAX_WAIT_SECONDS) throw new UsageError(`--wait: at most ${MAX_WAIT_SECONDS} seconds, got "${values.wait}"`);
  return {
    author: io.env.LLMMESH_AUTHOR || author(),
    note: values.note,
    dryRun: values["dry-run"],
    skipFleetCheck: values.force,
    ifEmpty: values["if-empty"],
    allowLiteralSecrets: values["allow-literal-secrets"],
    waitMs: Math.round(waitSeconds * 1000),
  };
}

function reportPush(result: PushResult, what: string, values: Values, io: CliIo): number {
  const ok = result.rollout === undefined || rolloutSummary(result.rollout).ok;
  if (values.json) {
    io.out(JSON.stringify(pushResultJson(result), null, 2) + "\n");
    return ok ? ExitCode.Ok : ExitCode.Incomplete;
  }
  switch (result.status) {
    case "not-empty":
      io.out(`The config bucket already holds revision ${result.revision}: nothing stored (--if-empty).\n`);
      return ExitCode.Ok;
    case "unchanged":
      io.out(`${what} is already the current revision ${result.revision} (${result.digest}): nothing stored.\n`);
      return ExitCode.Ok;
    default:
      break;
  }
  io.out(result.diff === "" ? "(no previous revision)\n" : result.diff);
  if (result.checks.length > 0) {
    const refusing = result.checks.filter((c) => c.problems.length > 0);
    io.out(
      refusing.length === 0
        ? `Checked with ${result.checks.length} live instance${result.checks.length === 1 ? "" : "s"}: all can apply it.\n`
        : `${refusing.length} of ${result.checks.length} live instances would refuse it:\n${refusing.flatMap((c) => c.problems.map((p) => `  - ${c.service} ${c.instanceId}: ${p}\n`)).join("")}`,
    );
  }
  if (result.status === "dry-run") {
    io.out("Dry run: nothing stored.\n");
    return ExitCode.Ok;
  }
  io.out(`Stored revision ${result.revision} (${result.digest}).\n`);
  if (!result.rollout) return ExitCode.Ok;
  const summary = rolloutSummary(result.rollout);
  (summary.ok ? io.out : io.err)(summary.text);
  return summary.ok ? ExitCode.Ok : ExitCode.Incomplete;
}

async function show(control: ConfigControl, values: Values, io: CliIo): Promise<number> {
  const wanted = values.revision === undefined ? undefined : revisionNumber(values.revision);
  const stored = wanted === undefined ? await control.current() : await control.revision(wanted);
  if (!stored) {
    io.err(wanted === undefined ? "The config bucket is empty.\n" : `Revision ${wanted} is not in the bucket's history.\n`);
    return ExitCode.Error;
  }
  if (values.json) {
    io.out(JSON.stringify(revisionJson(stored), null, 2) + "\n");
    return ExitCode.Ok;
  }
  // The document alone on stdout, so `llmmesh config show > file.yaml` gives an editable copy.
  io.err(`# revision ${stored.revision} (${stored.record.digest}), stored ${stored.storedAt.toISOString()} by ${stored.record.author}${stored.record.note ? `: ${stored.record.note}` : ""}\n`);
  io.out(stored.record.document.endsWith("\n") ? stored.record.document : `${stored.record.document}\n`);
  return ExitCode.Ok;
}

async function history(control: ConfigControl, values: Values, io: CliIo): Promise<number> {
  const revisions = await control.history();
  io.out(values.json ? JSON.stringify(revisions.map((r) => revisionJson(r, false)), null, 2) + "\n" : historyTable(revisions));
  return ExitCode.Ok;
}

async function status(control: ConfigControl, values: Values, io: CliIo): Promise<number> {
  const instances = await control.status();
  io.out(values.json ? JSON.stringify(instances.map(instanceJson), null, 2) + "\n" : statusTable(instances));
  return ExitCode.Ok;
}

async function withControl(values: Values, io: CliIo, run: (control: ConfigControl) => Promise<number>): Promise<number> {
  const url = values.nats || io.env.NATS_URL || "nats://127.0.0.1:4222";
  const names = natsNames(values.prefix || io.env.LLMMESH_NATS_PREFIX || DEFAULT_NATS_PREFIX);
  const nc: NatsConnection = await connectClient(url);
  try {
    return await run(new ConfigControl(() => nc, names));
  } finally {
    await nc.close();
  }
}

function reportFailure(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    io.err(`llmmesh: ${err.message}\n\n${USAGE}`);
    return ExitCode.Error;
  }
  if (err instanceof ConfigError) {
    io.err(`${err.source}: invalid config, nothing stored\n${err.problems.map((p) => `  - ${p}\n`).join("")}`);
    return ExitCode.Invalid;
  }
  if (err instanceof ConfigRefusedError) {
    io.err(`Refused by the running services, nothing stored:\n${err.problems.map((p) => `  - ${p}\n`).join("")}(--force stores it anyway; each refusing instance keeps its revision)\n`);
    return ExitCode.Invalid;
  }
  if (err instanceof ConfigConflictError) {
    io.err(`llmmesh: ${err.message}\n`);
    return ExitCode.Error;
  }
  io.err(`llmmesh: ${err instanceof Error ? err.message : String(err)}\n`);
  return ExitCode.Error;
}

function one(rest: readonly string[], name: string): string {
  if (rest.length !== 1 || rest[0] === undefined) throw new UsageError(`expected exactly one ${name}`);
  return rest[0];
}

function none(rest: readonly string[]): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

function revisionNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`expected a revision number, got "${text}"`);
  return n;
}

function author(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `${user}@${hostname()}`;
}

/** Reads a file, or stdin for "-". */
export async function readDocument(path: string): Promise<string> {
  if (path !== "-") return readFile(path, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
