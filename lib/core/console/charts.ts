/** Shaping query rows into what the overview's charts draw (Chart.js datasets), and DLQ counts by reason. */

export interface Series {
  labels: string[];
  datasets: { label: string; data: number[] }[];
}

/**
 * Rows of (bucket start, key, count) as one dataset per key over every bucket from `from` to `to` (inclusive,
 * step `stepMs`), zeros where a key had nothing, so a quiet minute shows as a gap rather than vanishing.
 */
export function bucketSeries(
  rows: { bucket: number; key: string; n: number }[],
  range: { from: number; to: number; stepMs: number },
  label: (bucket: number) => string,
): Series {
  const buckets: number[] = [];
  for (let b = range.from; b <= range.to; b += range.stepMs) buckets.push(b);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const byKey = new Map<string, number[]>();
  for (const r of rows) {
    const i = index.get(r.bucket);
    if (i === undefined) continue;
    const data = byKey.get(r.key) ?? buckets.map(() => 0);
    data[i] = (data[i] ?? 0) + r.n;
    byKey.set(r.key, data);
  }
  return {
    labels: buckets.map(label),
    datasets: [...byKey].sort(([a], [b]) => a.localeCompare(b)).map(([k, data]) => ({ label: k, data })),
  };
}

/** Rows of (x, series, count) as a grouped bar chart: one label per x, one dataset per series. */
export function grouped(rows: { x: string; series: string; n: number }[]): Series {
  const labels = [...new Set(rows.map((r) => r.x))].sort();
  const names = [...new Set(rows.map((r) => r.series))].sort();
  return {
    labels,
    datasets: names.map((s) => ({
      label: s,
      data: labels.map((x) => rows.filter((r) => r.x === x && r.series === s).reduce((a, r) => a + r.n, 0)),
    })),
  };
}

/** A DLQ reason as a label: its first line, at most 120 characters (the CLI's summary does the same). */
function reasonLabel(reason: string | undefined): string {
  return (reason ?? '-').split('\n')[0]!.slice(0, 120) || '-';
}

export interface DlqCount {
  topic: string;
  reason: string;
  count: number;
}

/** Counts per (topic, reason label), largest first. */
export function countByReason(records: { topic: string; headers: Record<string, string> }[]): DlqCount[] {
  const counts = new Map<string, DlqCount>();
  for (const r of records) {
    const reason = reasonLabel(r.headers['dlq.reason']);
    const id = `${r.topic}\u0000${reason}`;
    const c = counts.get(id) ?? { topic: r.topic, reason, count: 0 };
    c.count += 1;
    counts.set(id, c);
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.topic.localeCompare(b.topic));
}

/** Consumer lag of one partition: what is on the log past the group's committed offset (-1: nothing yet). */
export function partitionLag(committed: string, high: string, low: string): number {
  const end = Number(high);
  const from = Number(committed) < 0 ? Number(low) : Number(committed);
  return Math.max(0, end - from);
}
