/**
 * In-memory AdapterService clients for tests, and helpers to read what they
 * answer: the chunks of a stream, or the error of a call that must fail.
 */
import { ConnectError, createClient, createRouterTransport, type Client, type ServiceImpl } from "@connectrpc/connect";
import { AdapterService } from "@llmmesh/proto";

/** A client calling `service` in memory, through Connect's router (so requests and errors are serialised as on the wire). */
export function adapterClient(service: ServiceImpl<typeof AdapterService>): Client<typeof AdapterService> {
  return createClient(AdapterService, createRouterTransport((router) => router.service(AdapterService, service)));
}

/**
 * Reads a stream to its end and returns its chunks. Chunks are pushed into
 * `into` as they arrive, so a caller whose stream fails part way can still
 * see what came before the failure.
 */
export async function collect<T>(stream: AsyncIterable<{ chunk?: T }>, into: T[] = []): Promise<T[]> {
  for await (const { chunk } of stream) if (chunk !== undefined) into.push(chunk);
  return into;
}

/** The error a call fails with; throws if it succeeds instead. */
export async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}
