// Traffic between two readings of Cloud Monitoring over the same growing window. Monitoring keeps
// counts in buckets of a minute or more, so "requests since the step began" is read as the count
// now minus the count when the step began, both over [anchor, now]: requests made before the
// step fall into both readings and cancel out, whatever the bucket size or ingestion delay.

import type { CredentialTraffic, LatencyHistogram, SoakTraffic, TrafficReport } from '../contracts/reports';

/** One credential's requests, errors and per-method counts within a period. */
export type SideTraffic = CredentialTraffic;

export interface TrafficDelta {
  key: SideTraffic;
  vertex: SideTraffic;
}

/** The traffic that arrived between `before` and `after` (two reports over the same window start). */
export function trafficBetween(before: TrafficReport | undefined, after: TrafficReport): TrafficDelta {
  return { key: subtract(before?.key, after.key), vertex: subtract(before?.vertex, after.vertex) };
}

function subtract(before: SideTraffic | undefined, after: SideTraffic): SideTraffic {
  const requests = Math.max(0, after.requests - (before?.requests ?? 0));
  const errors = Math.max(0, after.errors - (before?.errors ?? 0));
  const earlier = new Map((before?.byMethod ?? []).map((m) => [`${m.method} ${m.responseCode}`, m.requests]));
  const byMethod = after.byMethod
    .map((m) => ({ ...m, requests: m.requests - (earlier.get(`${m.method} ${m.responseCode}`) ?? 0) }))
    .filter((m) => m.requests > 0)
    .sort((a, b) => b.requests - a.requests);
  const latency = after.latency ? subtractLatency(before?.latency, after.latency) : undefined;
  return { requests, errors, errorRate: requests === 0 ? 0 : errors / requests, byMethod, ...(latency ? { latency } : {}) };
}

/** The latencies that arrived between two readings, bucket by bucket (the buckets are the same in both). */
function subtractLatency(before: LatencyHistogram | undefined, after: LatencyHistogram): LatencyHistogram {
  const earlier = new Map((before?.buckets ?? []).map((b) => [b.lowerMs, b.count]));
  const buckets = after.buckets.map((b) => ({ ...b, count: Math.max(0, b.count - (earlier.get(b.lowerMs) ?? 0)) })).filter((b) => b.count > 0);
  const count = buckets.reduce((s, b) => s + b.count, 0);
  const beforeCount = before?.count ?? 0;
  const meanMs = count === 0 ? 0 : Math.max(0, (after.meanMs * after.count - (before?.meanMs ?? 0) * beforeCount) / Math.max(1, after.count - beforeCount));
  return { count, meanMs, buckets };
}

/** The key's soak record plus one more period's requests, per method and response code. */
export function addKeyTraffic(record: SoakTraffic | undefined, period: SideTraffic): SoakTraffic {
  const byMethod = new Map((record?.byMethod ?? []).map((m) => [`${m.method} ${m.responseCode}`, { ...m }]));
  for (const m of period.byMethod) {
    const key = `${m.method} ${m.responseCode}`;
    const existing = byMethod.get(key);
    if (existing) existing.requests += m.requests;
    else byMethod.set(key, { ...m });
  }
  return { keyRequests: (record?.keyRequests ?? 0) + period.requests, byMethod: [...byMethod.values()].sort((a, b) => b.requests - a.requests) };
}
