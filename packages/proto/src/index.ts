/**
 * The generated `llmmesh.v1` contracts (from `buf generate`), plus the
 * standard gRPC health and reflection protocols every service serves.
 * Nothing here is written by hand but this index.
 */
export * from "./gen/llmmesh/v1/chat_pb.js";
export * from "./gen/llmmesh/v1/completion_pb.js";
export * from "./gen/llmmesh/v1/errors_pb.js";
export * from "./gen/llmmesh/v1/router_service_pb.js";
export * from "./gen/llmmesh/v1/adapter_service_pb.js";
export * from "./gen/llmmesh/v1/policy_service_pb.js";
export * from "./gen/llmmesh/v1/config_pb.js";
export * as healthV1 from "./gen/grpc/health/v1/health_pb.js";
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
