/**
 * Raw HTTP/1.1 and HTTP/2 requests for tests that must send what no SDK
 * would: invalid UTF-8, duplicate keys, 20 MB bodies, any method. Each
 * request has a client-side time limit, so a server that never answers
 * fails the test instead of hanging it.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import type { ClientHttp2Session } from "node:http2";
import type { Readable } from "node:stream";

/** Longest a test waits for a whole answer before calling it a hang. */
export const ANSWER_TIME_LIMIT_MS = 15_000;

/** One answer, read to its end. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Whether the request went out on a kept-alive connection that an earlier request had used. */
  reusedSocket: boolean;
}

export interface RawRequest {
  method?: string;
  /** Path and query, sent as is. */
  path: string;
  /** A string or bytes (sent with Content-Length), or a stream (sent chunked). */
  body?: string | Uint8Array | Readable;
  headers?: OutgoingHttpHeaders;
  /** A keep-alive agent to share connections; absent: a fresh connection closed after the answer. */
  agent?: Agent;
}

/**
 * Sends one request and reads the whole answer. A server that answers
 * early and then drops the rest of the upload (a 413) is fine: the answer
 * counts, the failed upload does not.
 */
export function sendRaw(baseUrl: string, req: RawRequest): Promise<RawAnswer> {
  const url = new URL(req.path, baseUrl);
  return new Promise<RawAnswer>((resolve, reject) => {
    let answered = false;
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? "POST",
        // Not `url.pathname`: the path goes out exactly as the test wrote it.
        path: req.path,
        headers: { "content-type": "application/json", ...req.headers },
        agent: req.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          answered = true;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
            reusedSocket: outgoing.reusedSocket,
          });
        });
        res.on("error", (err) => {
          if (!answered) reject(err);
        });
      },
    );
    outgoing.setTimeout(ANSWER_TIME_LIMIT_MS, () => outgoing.destroy(new Error(`no answer to ${req.method ?? "POST"} ${req.path} within ${ANSWER_TIME_LIMIT_MS} ms`)));
    // A write error after the answer (the server closed a refused upload) is expected.
    outgoing.on("error", (err) => {
      if (!answered) reject(err);
    });
    const body = req.body;
    if (body === undefined || typeof body === "string" || body instanceof Uint8Array) outgoing.end(body);
    else body.pipe(outgoing);
  });
}

/** What any answer has, whatever the HTTP version. */
export type Answer = Pick<RawAnswer, "status" | "headers" | "text">;

/** An answer over HTTP/2, and the code its stream closed with (0: NO_ERROR). */
export type H2Answer = Answer & { rstCode: number };

/**
 * Sends one request as a stream of `session` (say, `http2.connect(url)`:
 * cleartext HTTP/2 with prior knowledge), reads the whole answer and waits
 * for the stream to close: a server that answers but leaves the stream open
 * (the client's upload stalled) fails on the time limit too. String and
 * byte bodies go out with Content-Length, streams without.
 */
export function sendH2(session: ClientHttp2Session, req: Omit<RawRequest, "agent">): Promise<H2Answer> {
  const body = req.body;
  const length = typeof body === "string" ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : undefined;
  return new Promise<H2Answer>((resolve, reject) => {
    let answer: Answer | undefined;
    let failure: Error | undefined;
    const stream = session.request({
      ":method": req.method ?? "POST",
      ":path": req.path,
      "content-type": "application/json",
      ...(length === undefined ? {} : { "content-length": length }),
      ...req.headers,
    });
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (received) => (headers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const { ":status": status, ...rest } = headers;
      answer = { status: Number(status ?? 0), headers: rest, text: Buffer.concat(chunks).toString("utf8") };
    });
    stream.on("error", (err) => (failure ??= err));
    stream.on("close", () => {
      if (answer && !failure) resolve({ ...answer, rstCode: stream.rstCode ?? 0 });
      else reject(failure ?? new Error(`the stream of ${req.path} closed without an answer`));
    });
    stream.setTimeout(ANSWER_TIME_LIMIT_MS, () => {
      const what = answer ? "the stream stayed open after the answer to" : "no answer to";
      stream.destroy(new Error(`${what} ${req.method ?? "POST"} ${req.path} within ${ANSWER_TIME_LIMIT_MS} ms`));
    });
    if (body === undefined || typeof body === "string" || body instanceof Uint8Array) stream.end(body);
    else body.pipe(stream);
  });
}

/** The OpenAI error envelope of an answer; throws when the body is not exactly that shape. */
export function errorEnvelopeOf(answer: Pick<RawAnswer, "text">): { message: string; type: string; param: string | null; code: string | null } {
  const json = JSON.parse(answer.text) as unknown;
  if (typeof json !== "object" || json === null || !("error" in json)) throw new Error(`not an error envelope: ${answer.text.slice(0, 200)}`);
  const error = (json as { error: Record<string, unknown> }).error;
  const keys = Object.keys(json);
  const fields = Object.keys(error).sort();
  const wellFormed =
    keys.length === 1 &&
    fields.join(",") === "code,message,param,type" &&
    typeof error.message === "string" &&
    error.message !== "" &&
    typeof error.type === "string" &&
    (error.param === null || typeof error.param === "string") &&
    (error.code === null || typeof error.code === "string");
  if (!wellFormed) throw new Error(`malformed error envelope: ${answer.text.slice(0, 200)}`);
  return error as { message: string; type: string; param: string | null; code: string | null };
}
