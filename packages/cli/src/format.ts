import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ConfigSource, type InstanceStatus } from "@llmmesh/proto";
import type { RolloutReport, StoredRevision } from "@llmmesh/common";

/** Renders rows as left-aligned columns under a header, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** `2025-01-02 03:04:05Z (3m ago)`, relative to `now`. */
export function when(date: Date | undefined, now = new Date()): string {
  if (!date) return "-";
  const iso = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  return `${iso} (${ago(now.getTime() - date.getTime())})`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A timestamp field as a Date, undefined when unset. */
export function dateOf(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp ? timestampDate(timestamp) : undefined;
}

/** `12 (3f2a9c01bd44)` for a bucket revision, `file (3f2a9c01bd44)` for a local file, `-` for none. */
export function revisionLabel(revision: bigint | number, digest: string, source: ConfigSource): string {
  if (digest === "") return "-";
  return source === ConfigSource.FILE ? `file (${digest})` : `${revision} (${digest})`;
}

/** The `llmmesh status` table. */
export function statusTable(instances: readonly InstanceStatus[], now = new Date()): string {
  if (instances.length === 0) return "No live instances answered.\n";
  return table(
    ["SERVICE", "INSTANCE", "VERSION", "REVISION", "SINCE", "READY", "LAST ERROR"],
    instances.map((s) => [
      s.service,
      s.instanceId,
      s.version,
      revisionLabel(s.revision, s.digest, s.source),
      when(dateOf(s.revisionSince), now),
      s.ready ? "yes" : "no",
      s.lastError === "" ? "-" : `${s.lastError} (${when(dateOf(s.lastErrorAt), now)})`,
    ]),
  );
}

/** The `llmmesh config history` table; `current` is marked with `*`. */
export function historyTable(revisions: readonly StoredRevision[], now = new Date()): string {
  if (revisions.length === 0) return "The config bucket is empty.\n";
  const current = revisions.at(-1)?.revision;
  return table(
    ["", "REVISION", "DIGEST", "STORED", "BY", "NOTE"],
    revisions.map((r) => [
      r.revision === current ? "*" : "",
      String(r.revision),
      r.record.digest,
      when(r.storedAt, now),
      r.record.author,
      noteOf(r),
    ]),
  );
}

function noteOf(r: StoredRevision): string {
  if (r.record.note !== "") return r.record.note;
  return r.record.rollbackOf > 0n ? `rollback to revision ${r.record.rollbackOf}` : "-";
}

/** A few lines on how the fleet took a new revision; `ok` is false when an instance refused it or stayed silent. */
export function rolloutSummary(report: RolloutReport): { text: string; ok: boolean } {
  const lines: string[] = [];
  const total = report.applied.length + report.rejected.length + report.silent.length;
  lines.push(`Applied by ${report.applied.length}/${total} instance${total === 1 ? "" : "s"} in ${report.elapsedMs} ms.`);
  for (const r of report.rejected) {
    lines.push(`Refused by ${r.service} ${r.instanceId} (keeps revision ${r.runningRevision} ${r.runningDigest}):`);
    for (const p of r.problems) lines.push(`  - ${p}`);
  }
  for (const id of report.silent) lines.push(`No report from ${id} within the wait (see \`llmmesh status\`).`);
  return { text: lines.join("\n") + "\n", ok: report.rejected.length === 0 && report.silent.length === 0 };
}
