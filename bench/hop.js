// One internal hop, measured alone: CPU per call on each side for the same
// message, through
//   - a plain HTTP/1.1 JSON hop (node:http server, undici client): the baseline;
//   - connect-node's general Connect client and handler over HTTP/2 (binary):
//     what the mesh used before its fast paths;
//   - the mesh's own transport and server (createServiceTransport, startServer):
//     on the multiplexed connection (what two mesh services use), and over
//     HTTP/1.1 (what a peer that does not speak the multiplexing gets).
// Server in a child process, client here; each side's CPU from process.cpuUsage.
//   npm run build && node bench/hop.js [calls=20000] [concurrency=16]
import { Buffer } from "node:buffer";
import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PolicyService } from "@llmmesh/proto";
import { createServiceTransport, silentLogger, startServer } from "@llmmesh/common";

const calls = Number(process.argv[2] ?? 20_000);
const concurrency = Number(process.argv[3] ?? 16);
const WARMUP = 2_000;
// About 1.3 KB on the wire: four chat messages, as an Admit carries them.
const message = {
  model: "bench-model-name-000",
  estimatedTokens: 100n,
  chat: { model: "m", messages: Array.from({ length: 4 }, () => ({ role: "user", content: { case: "text", value: "hello world ".repeat(25) } })) },
};
const json = JSON.stringify({ ...message, estimatedTokens: 100, chat: { model: "m", messages: message.chat.messages.map((m) => ({ role: m.role, content: m.content.value })) } });

if (process.argv[2] === "--serve") await serve(process.argv[3]);
else await measureAll();

/** @param {{ model: string }} req */
function answer(req) {
  return { reservationId: `r-${req.model}`, principal: { keyId: "k", tenant: "t" } };
}

/** The server side, in its own process: answers until the parent goes away. */
async function serve(kind) {
  let url;
  if (kind === "plain") {
    const http = await import("node:http");
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        const out = JSON.stringify({ reservationId: `r-${body.model}`, principal: { keyId: "k", tenant: "t" } });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
        res.end(out);
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  } else if (kind === "connect") {
    // connect-node's general handler alone, as the mesh served before its fast paths.
    const http2 = await import("node:http2");
    const { connectNodeAdapter } = await import("@connectrpc/connect-node");
    const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(PolicyService, { admit: answer }) }));
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  } else {
    const server = await startServer({
      host: "127.0.0.1",
      port: 0,
      services: [PolicyService],
      maxMessageBytes: 16 * 1024 * 1024,
      logger: silentLogger,
      routes: (router) => router.service(PolicyService, { admit: answer }),
    });
    url = server.url;
  }
  process.on("message", (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage() });
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ url });
}

async function measureAll() {
  const rows = [];
  rows.push(await measure("plain HTTP/1.1 JSON (baseline)", "plain", (url) => {
    const pool = new Pool(url, { connections: concurrency });
    return async () => {
      const res = await pool.request({ path: "/admit", method: "POST", headers: { "content-type": "application/json" }, body: json });
      return JSON.parse(await res.body.text());
    };
  }));
  rows.push(await measure("connect-node over HTTP/2, both sides (before)", "connect", (url) => {
    const client = createClient(PolicyService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));
    return () => client.admit(message);
  }));
  rows.push(await measure("mesh transport, multiplexed connection (now)", "mesh", (url) => {
    const client = createClient(PolicyService, createServiceTransport(url, { maxMessageBytes: 16 * 1024 * 1024 }));
    return () => client.admit(message);
  }));
  rows.push(await measure("mesh transport, HTTP/1.1 (a peer without multiplexing)", "mesh", (url) => {
    const client = createClient(PolicyService, createServiceTransport(url, { maxMessageBytes: 16 * 1024 * 1024, multiplex: false }));
    return () => client.admit(message);
  }));
  const [base] = rows;
  const print = (line) => process.stdout.write(line + "\n");
  print(`\n${calls} calls, ${concurrency} at a time; CPU µs per call, and the ratio to the plain hop measured in this run\n`);
  print("| hop | calls/s | server µs | client µs | server ÷ plain | client ÷ plain |");
  print("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    print(`| ${r.name} | ${r.rate.toFixed(0)} | ${r.server.toFixed(0)} | ${r.client.toFixed(0)} | ${(r.server / base.server).toFixed(2)}× | ${(r.client / base.client).toFixed(2)}× |`);
  }
  process.exit(0);
}

async function measure(name, kind, makeCall) {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", kind], { stdio: "inherit" });
  const { url } = await new Promise((resolve) => child.once("message", resolve));
  const serverCpu = () =>
    new Promise((resolve) => {
      child.once("message", (m) => resolve(m.cpu));
      child.send("cpu");
    });
  const call = makeCall(url);
  for (let i = 0; i < WARMUP; i++) await call();
  const s0 = await serverCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let started = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (started++ < calls) await call();
  }));
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const s1 = await serverCpu();
  child.disconnect();
  return {
    name,
    rate: calls / seconds,
    server: (s1.user + s1.system - s0.user - s0.system) / calls,
    client: (c1.user + c1.system) / calls,
  };
}
