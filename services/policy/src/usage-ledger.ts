/** Usage totals of one key or tenant. */
export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** One settled request's contribution. */
export interface UsageEntry {
  keyId: string;
  tenant: string;
  /** 1 for a request that succeeded, 0 for one that failed but may still have used tokens. */
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Usage totals per key and per tenant, in this process's memory. A stand-in
 * for the persistent ledger (PostgreSQL) of mesh deployments: totals are lost
 * on restart and not shared between replicas.
 */
export class UsageLedger {
  readonly #byKey = new Map<string, UsageTotals>();
  readonly #byTenant = new Map<string, UsageTotals>();

  /** Adds one request's usage to its key (when it has one) and its tenant. */
  record(entry: UsageEntry): void {
    if (entry.keyId !== "") addTo(this.#byKey, entry.keyId, entry);
    addTo(this.#byTenant, entry.tenant, entry);
  }

  /** Totals of a key so far (zeros when it has none). */
  forKey(keyId: string): UsageTotals {
    return { ...(this.#byKey.get(keyId) ?? ZERO) };
  }

  /** Totals of a tenant so far (zeros when it has none). */
  forTenant(tenant: string): UsageTotals {
    return { ...(this.#byTenant.get(tenant) ?? ZERO) };
  }
}

const ZERO: UsageTotals = Object.freeze({ requests: 0, promptTokens: 0, completionTokens: 0 });

function addTo(map: Map<string, UsageTotals>, id: string, entry: UsageEntry): void {
  let totals = map.get(id);
  if (!totals) {
    totals = { requests: 0, promptTokens: 0, completionTokens: 0 };
    map.set(id, totals);
  }
  totals.requests += entry.requests;
  totals.promptTokens += entry.promptTokens;
  totals.completionTokens += entry.completionTokens;
}
