import type { DescMethod } from "@bufbuild/protobuf";

/** The HTTP path of an RPC under the Connect protocol: `/package.Service/Method`. */
export function rpcPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** The content type of a binary Connect unary message. */
export const UNARY_PROTO = "application/proto";
