#!/usr/bin/env node
// `llmmesh`: the operators' CLI. Thin: everything is in cli.ts.
import { readDocument, runCli } from "./cli.js";

runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  read: readDocument,
}).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`llmmesh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
