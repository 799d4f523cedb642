import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./test-harness.js";

/** Requests carrying this header get a response that cannot be written: its writeHead throws. */
const BREAK = "x-test-break-response";

/** The gateway, where a request with BREAK gets a response that cannot be written. */
function startBreakableGateway(options: { http2?: boolean } = {}): Promise<TestGateway> {
  return startTestGateway({
    ...options,
    beforeHandle: (req, res) => {
      if (req.headers[BREAK] === undefined) return;
      res.writeHead = () => {
        throw new Error("the socket broke");
      };
    },
  });
}

const LAST_RESORT_LOG = expect.objectContaining({ level: "error", message: "could not answer request", cause: "the socket broke" });

describe("a response that cannot be written, over HTTP/1.1", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startBreakableGateway();
  });
  afterAll(() => gw.close());

  it("is closed rather than left hanging, logged, and the gateway goes on serving", async () => {
    // Neither the answer nor the error response can be written: only the last resort is left.
    const outcome = await fetch(`${gw.origin}/healthz`, { headers: { [BREAK]: "1" }, signal: AbortSignal.timeout(5_000) }).then(
      (res) => `status ${res.status}`,
      (err: unknown) => (err instanceof Error ? err.name : String(err)),
    );
    // Left hanging, the request would end in the client's own TimeoutError.
    expect(outcome).toBe("TypeError");
    expect(gw.logs).toContainEqual(LAST_RESORT_LOG);
    expect((await fetch(`${gw.origin}/healthz`)).status).toBe(200);
  });
});

describe("a response that cannot be written, over HTTP/2", () => {
  let gw: TestGateway;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    gw = await startBreakableGateway({ http2: true });
    session = http2.connect(gw.origin);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => session.close(() => resolve()));
    await gw.close();
  });

  /** How a GET /healthz on the shared session ends: its status, or how its stream closed. */
  function healthz(headers: Record<string, string> = {}): Promise<string> {
    return new Promise((resolve) => {
      const stream = session.request({ ":path": "/healthz", ...headers });
      let status: unknown;
      stream.on("response", (h) => (status = h[":status"]));
      let leftOpen = false;
      stream.setTimeout(5_000, () => {
        leftOpen = true;
        stream.close();
      });
      stream.on("error", () => undefined);
      stream.on("close", () => resolve(leftOpen ? "left open" : status === undefined ? `reset with code ${stream.rstCode}` : `status ${String(status)}`));
      stream.resume();
      stream.end();
    });
  }

  it("resets its stream rather than leaving it open, and the connection goes on serving", async () => {
    // Left open, the stream would close only at the client's own timeout ("left open").
    expect(await healthz({ [BREAK]: "1" })).toMatch(/^reset with code \d+$/);
    expect(gw.logs).toContainEqual(LAST_RESORT_LOG);
    expect(await healthz()).toBe("status 200");
    expect(session.closed || session.destroyed).toBe(false);
  });
});
