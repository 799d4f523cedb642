import { Code, ConnectError } from "@connectrpc/connect";
import { meshError, Reason } from "@llmmesh/common";

/**
 * The error for work stopped by an aborted RPC signal: DeadlineExceeded when
 * the RPC's deadline passed, Canceled when the caller went away.
 */
export function abortError(signal: AbortSignal, provider: string): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) {
    return meshError(Code.DeadlineExceeded, `provider "${provider}" did not answer before the deadline`, {
      reason: Reason.UpstreamTimeout,
      provider,
    });
  }
  return new ConnectError(`request to provider "${provider}" was cancelled`, Code.Canceled);
}
