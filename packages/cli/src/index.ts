/** The `llmmesh` CLI as a library, for tests and embedding: `runCli(args, io)` resolves with the exit code. */
export { runCli, readDocument, ExitCode } from "./cli.js";
export type { CliIo } from "./cli.js";
