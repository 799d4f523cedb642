import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { healthV1 } from "@llmmesh/proto";

const { HealthCheckResponse_ServingStatus: Status } = healthV1;

/**
 * Serves `grpc.health.v1.Health` for the given service names ("" means the
 * whole server). Everything registered is SERVING while the process runs;
 * `setNotServing` flips it during shutdown so load balancers drain us first.
 */
export function registerHealth(router: ConnectRouter, serviceNames: readonly string[]): { setNotServing(): void } {
  let serving = true;
  const known = new Set(["", ...serviceNames]);
  const statusOf = (service: string) => {
    if (!known.has(service)) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
    return create(healthV1.HealthCheckResponseSchema, { status: serving ? Status.SERVING : Status.NOT_SERVING });
  };
  router.service(healthV1.Health, {
    check: (req) => statusOf(req.service),
    list: () => create(healthV1.HealthListResponseSchema, { statuses: Object.fromEntries([...known].map((n) => [n, statusOf(n)])) }),
    async *watch(req, ctx) {
      yield statusOf(req.service);
      // Status only changes at shutdown, when the stream is cut anyway.
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    },
  });
  return {
    setNotServing() {
      serving = false;
    },
  };
}
