// The listening and lifetime rules every benchmark server shares.
import process from "node:process";

/**
 * Serves `server` on PORT/HOST with long keep-alive and no request timeouts
 * (the harness bounds every run itself), prints `<name> listening on <url>`
 * when ready, and exits when the harness's pipe on stdin closes
 * (BENCH_EXIT_WITH_STDIN=1) or on SIGTERM, so it never outlives the harness.
 * @param {import("node:http").Server} server
 * @param {string} name
 */
export function serveForBench(server, name) {
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  const host = process.env.HOST || "127.0.0.1";
  server.listen({ port: Number(process.env.PORT || 0), host, backlog: 4096 }, () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    process.stdout.write(`${name} listening on http://${host}:${port}\n`);
  });
  if (process.env.BENCH_EXIT_WITH_STDIN === "1") {
    process.stdin.resume();
    process.stdin.on("end", () => process.exit(0));
  }
  process.on("SIGTERM", () => process.exit(0));
}
