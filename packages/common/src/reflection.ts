import type { ConnectRouter } from "@connectrpc/connect";
import { create, fromBinary, toBinary, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { reflectionV1, reflectionV1alpha } from "@llmmesh/proto";

/**
 * Serves gRPC server reflection (v1 and v1alpha, which grpcurl falls back to)
 * for the given files, so tools can discover and call every service without
 * local .proto files.
 */
export function registerReflection(router: ConnectRouter, files: readonly DescFile[], serviceNames: readonly string[]): void {
  // Every file reachable from the served ones, and every symbol they declare.
  const filesByName = new Map<string, DescFile>();
  const fileBySymbol = new Map<string, DescFile>();
  const index = (file: DescFile) => {
    if (filesByName.has(file.name + ".proto")) return;
    filesByName.set(file.name + ".proto", file);
    for (const message of file.messages) indexMessage(message, file);
    for (const e of file.enums) fileBySymbol.set(e.typeName, file);
    for (const service of file.services) {
      fileBySymbol.set(service.typeName, file);
      for (const method of service.methods) fileBySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    file.dependencies.forEach(index);
  };
  const indexMessage = (message: DescMessage, file: DescFile) => {
    fileBySymbol.set(message.typeName, file);
    message.nestedMessages.forEach((nested) => indexMessage(nested, file));
    for (const e of message.nestedEnums) fileBySymbol.set(e.typeName, file);
  };
  files.forEach(index);
  const allServices = [...serviceNames, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

  // A file and everything it imports, dependencies first, each once.
  const withDependencies = (file: DescFile): Uint8Array[] => {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  };

  const { ServerReflectionResponseSchema: Response } = reflectionV1;
  const answer = (req: reflectionV1.ServerReflectionRequest): reflectionV1.ServerReflectionResponse => {
    const base = { validHost: req.host, originalRequest: req };
    const notFound = (message: string) =>
      create(Response, { ...base, messageResponse: { case: "errorResponse", value: { errorCode: 5, errorMessage: message } } });
    const files = (file: DescFile | undefined, what: string) =>
      file
        ? create(Response, {
            ...base,
            messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } },
          })
        : notFound(`${what} not found`);
    const request = req.messageRequest;
    switch (request.case) {
      case "listServices":
        return create(Response, {
          ...base,
          messageResponse: { case: "listServicesResponse", value: { service: allServices.map((name) => ({ name })) } },
        });
      case "fileByFilename":
        return files(filesByName.get(request.value), `file ${request.value}`);
      case "fileContainingSymbol":
        return files(fileBySymbol.get(request.value.replace(/^\./, "")), `symbol ${request.value}`);
      default:
        return notFound("extensions are not supported");
    }
  };

  router.service(reflectionV1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(req);
    },
  });
  // v1alpha is the same wire format under another package name: convert
  // through bytes rather than keep a second implementation.
  router.service(reflectionV1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const asV1 = fromBinary(reflectionV1.ServerReflectionRequestSchema, toBinary(reflectionV1alpha.ServerReflectionRequestSchema, req));
        yield fromBinary(reflectionV1alpha.ServerReflectionResponseSchema, toBinary(Response, answer(asV1)));
      }
    },
  });
}
