import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));

/** A plain `@grpc/grpc-js` client built from the .proto files, as an internal service in any stack would. */
export interface PlainGrpcClient extends grpc.Client {
  Chat(request: object, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void): void;
  ChatStream(request: object, metadata: grpc.Metadata): grpc.ClientReadableStream<Record<string, unknown>>;
  ListModels(request: object, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void): void;
}

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client;

/** Loads a service constructor from proto/ by its full name, e.g. "llmmesh.v1.RouterService". */
export function loadService(fullName: string, file: string): ClientConstructor {
  const definition = protoLoader.loadSync(file, {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of fullName.split(".")) node = (node as Record<string, unknown>)[part];
  return node as ClientConstructor;
}

/** A RouterService client on `url` (http://host:port). */
export function routerClient(url: string): PlainGrpcClient {
  const RouterService = loadService("llmmesh.v1.RouterService", "llmmesh/v1/router_service.proto");
  return new RouterService(new URL(url).host, grpc.credentials.createInsecure()) as PlainGrpcClient;
}

/** Metadata carrying an API key the way REST clients send it. */
export function bearer(key: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

/** Promisified unary call. */
export function unary(
  call: (request: object, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void) => void,
  request: object,
  metadata: grpc.Metadata,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => call(request, metadata, (err, response) => (err ? reject(err) : resolve(response))));
}
