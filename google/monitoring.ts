// Traffic: who still calls Gemini with what, from Cloud Monitoring's consumed-API request count,
// and how fast it was answered, from its request_latencies distribution. The canary compares the
// key's and the service account's error rates and latencies over a bake window; the soak reads the
// key's traffic to prove it is unused (or to name the methods still using it); `keyless plan`
// reads the key's recent volume to size the canary's steps.

import { ErrorType, KeylessError } from '../contracts/errors';
import type { CredentialTraffic, LatencyBucket, LatencyHistogram, MethodTraffic, TrafficReport } from '../contracts/reports';
import type { GoogleClients } from './clients';
import { googleError } from './errors';
import type { ReadTrafficInput } from '../contracts/activities';

export type { ReadTrafficInput } from '../contracts/activities';

export type { CredentialTraffic, MethodTraffic, TrafficReport } from '../contracts/reports';

const REQUEST_COUNT = 'serviceruntime.googleapis.com/api/request_count';
const REQUEST_LATENCIES = 'serviceruntime.googleapis.com/api/request_latencies';
/** Monitoring's smallest alignment period. */
const MIN_ALIGNMENT_SECONDS = 60;
/** Series per page; a pipeline's credential has a handful (methods × response codes). */
const PAGE_SIZE = 1000;
/** Bounds the paging loop: far more series than two credentials can produce. */
const MAX_PAGES = 20;

/**
 * Which responses count as errors: every 5xx; 401 and 403 (a rejected key, a missing role);
 * 404 (a model not served); 429 (quota). Other 4xx (400 bad request, 409, 499 cancelled) are the
 * caller's own doing and fail the same on either path, so they would only add noise to the
 * canary comparison.
 */
export function isErrorResponse(responseCode: string): boolean {
  const code = Number(responseCode);
  return code >= 500 || code === 401 || code === 403 || code === 404 || code === 429;
}

/** Request counts and error rates of the key and of the service account over a window. */
export async function readTraffic(clients: GoogleClients, input: ReadTrafficInput): Promise<TrafficReport> {
  const start = Date.parse(input.windowStart);
  // "Until now" right after the anchor was taken may be the same millisecond: still a window.
  const end = input.windowEnd === undefined ? Math.max(Date.now(), start + 1) : Date.parse(input.windowEnd);
  if (!(end > start)) {
    throw new KeylessError({
      type: ErrorType.InvalidRequest,
      message: `traffic window must end after it starts (${input.windowStart} .. ${input.windowEnd})`,
    });
  }
  const keyCredential = `apikey:${input.keyUid}`;
  const accountCredential = `serviceaccount:${input.serviceAccountUniqueId}`;
  const rows = await listRequestCounts(clients, input.project, [keyCredential, accountCredential], start, end);
  const key = summarize(rows.filter((r) => r.credential === keyCredential));
  const vertex = summarize(rows.filter((r) => r.credential === accountCredential));
  if (input.latency) {
    const latencies = await listLatencies(clients, input.project, [keyCredential, accountCredential], start, end);
    key.latency = latencies.get(keyCredential) ?? EMPTY_HISTOGRAM;
    vertex.latency = latencies.get(accountCredential) ?? EMPTY_HISTOGRAM;
  }
  return { key, vertex, windowStart: new Date(start).toISOString(), windowEnd: new Date(end).toISOString() };
}

/** A pipeline's requests over a recent window: its key's, and its account's once it exists. */
export async function readPipelineVolume(
  clients: GoogleClients,
  input: { project: string; keyUid: string; serviceAccountUniqueId?: string; windowMs: number; now?: number },
): Promise<{ requests: number; windowMs: number }> {
  const end = input.now ?? Date.now();
  const credentials = [`apikey:${input.keyUid}`, ...(input.serviceAccountUniqueId ? [`serviceaccount:${input.serviceAccountUniqueId}`] : [])];
  const rows = await listRequestCounts(clients, input.project, credentials, end - input.windowMs, end);
  return { requests: rows.reduce((sum, r) => sum + r.requests, 0), windowMs: input.windowMs };
}

const EMPTY_HISTOGRAM: LatencyHistogram = { count: 0, meanMs: 0, buckets: [] };

/**
 * The latency distribution of each credential's successful requests over the window: one
 * alignment period spanning it, ALIGN_DELTA (request_latencies is a DELTA DISTRIBUTION metric),
 * summed across methods and locations per credential. Failed requests are left out: a refusal is
 * fast and a timeout slow, and the error rate judges them already.
 */
async function listLatencies(clients: GoogleClients, project: string, credentials: string[], start: number, end: number): Promise<Map<string, LatencyHistogram>> {
  const filter = [
    `metric.type = "${REQUEST_LATENCIES}"`,
    'resource.type = "consumed_api"',
    `resource.labels.credential_id = one_of(${credentials.map((c) => `"${c}"`).join(', ')})`,
    'metric.labels.response_code_class = "2xx"',
  ].join(' AND ');
  const windowSeconds = Math.max(MIN_ALIGNMENT_SECONDS, Math.ceil((end - start) / 1000));
  let series;
  try {
    // Grouped by credential alone: two series at most, one page.
    [series] = await clients.monitoring.listTimeSeries(
      {
        name: `projects/${project}`,
        filter,
        interval: { startTime: timestamp(end - windowSeconds * 1000), endTime: timestamp(end) },
        aggregation: {
          alignmentPeriod: { seconds: windowSeconds },
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer: 'REDUCE_SUM',
          groupByFields: ['resource.label.credential_id'],
        },
        view: 'FULL',
      },
      { autoPaginate: false },
    );
  } catch (err) {
    throw googleError(err, { context: `read request latencies of ${credentials.join(', ')} in ${project}` });
  }
  const out = new Map<string, LatencyHistogram>();
  for (const s of series) {
    const credential = s.resource?.labels?.credential_id ?? '';
    for (const point of s.points ?? []) {
      const dist = point.value?.distributionValue;
      if (dist) out.set(credential, mergeHistograms(out.get(credential) ?? EMPTY_HISTOGRAM, histogramOf(dist)));
    }
  }
  return out;
}

/** The fields of google.api.Distribution this reads, as the client decodes them (int64s as strings, numbers or Longs). */
interface DistributionValue {
  count?: unknown;
  mean?: number | null;
  bucketCounts?: unknown[] | null;
  bucketOptions?: {
    exponentialBuckets?: { numFiniteBuckets?: number | null; growthFactor?: number | null; scale?: number | null } | null;
    linearBuckets?: { numFiniteBuckets?: number | null; width?: number | null; offset?: number | null } | null;
    explicitBuckets?: { bounds?: number[] | null } | null;
  } | null;
}

/** A Monitoring distribution (seconds) as a histogram in milliseconds, whatever its bucket layout. */
export function histogramOf(dist: DistributionValue): LatencyHistogram {
  const count = toNumber(dist.count);
  const bounds = bucketBoundsSeconds(dist.bucketOptions);
  const buckets: LatencyBucket[] = [];
  (dist.bucketCounts ?? []).forEach((raw, i) => {
    const n = toNumber(raw);
    if (n <= 0) return;
    const [lower, upper] = bounds(i);
    buckets.push({ lowerMs: Math.max(0, lower * 1000), upperMs: upper === null ? null : upper * 1000, count: n });
  });
  return { count, meanMs: (dist.mean ?? 0) * 1000, buckets };
}

/** Bounds of bucket i in seconds (Google's numbering: 0 underflow, then the finite ones, then overflow). */
function bucketBoundsSeconds(options: DistributionValue['bucketOptions']): (i: number) => [number, number | null] {
  const exp = options?.exponentialBuckets;
  if (exp) {
    const n = exp.numFiniteBuckets ?? 0;
    const g = exp.growthFactor ?? 2;
    const scale = exp.scale ?? 1;
    return (i) => [i === 0 ? 0 : scale * g ** (i - 1), i > n ? null : scale * g ** i];
  }
  const linear = options?.linearBuckets;
  if (linear) {
    const n = linear.numFiniteBuckets ?? 0;
    const width = linear.width ?? 1;
    const offset = linear.offset ?? 0;
    return (i) => [i === 0 ? 0 : offset + width * (i - 1), i > n ? null : offset + width * i];
  }
  const bounds = options?.explicitBuckets?.bounds ?? [];
  return (i) => [i === 0 ? 0 : bounds[i - 1]!, i >= bounds.length ? null : bounds[i]!];
}

function mergeHistograms(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  const byLower = new Map(a.buckets.map((x) => [x.lowerMs, { ...x }]));
  for (const x of b.buckets) {
    const existing = byLower.get(x.lowerMs);
    if (existing) existing.count += x.count;
    else byLower.set(x.lowerMs, { ...x });
  }
  const count = a.count + b.count;
  const meanMs = count === 0 ? 0 : (a.meanMs * a.count + b.meanMs * b.count) / count;
  return { count, meanMs, buckets: [...byLower.values()].sort((x, y) => x.lowerMs - y.lowerMs) };
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  if (value && typeof (value as { toNumber?: unknown }).toNumber === 'function') return (value as { toNumber(): number }).toNumber();
  return 0;
}

interface CountRow extends MethodTraffic {
  credential: string;
}

/**
 * One query for both credentials: summed over the window (one alignment period spanning it)
 * and grouped by credential, method and response code.
 */
async function listRequestCounts(clients: GoogleClients, project: string, credentials: string[], start: number, end: number): Promise<CountRow[]> {
  const filter = [
    `metric.type = "${REQUEST_COUNT}"`,
    'resource.type = "consumed_api"',
    `resource.labels.credential_id = one_of(${credentials.map((c) => `"${c}"`).join(', ')})`,
  ].join(' AND ');
  const windowSeconds = Math.max(MIN_ALIGNMENT_SECONDS, Math.ceil((end - start) / 1000));
  const rows: CountRow[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    let series;
    let next: string | null | undefined;
    try {
      let raw;
      [series, , raw] = await clients.monitoring.listTimeSeries(
        {
          name: `projects/${project}`,
          filter,
          interval: { startTime: timestamp(end - windowSeconds * 1000), endTime: timestamp(end) },
          aggregation: {
            alignmentPeriod: { seconds: windowSeconds },
            perSeriesAligner: 'ALIGN_SUM',
            crossSeriesReducer: 'REDUCE_SUM',
            groupByFields: ['resource.label.credential_id', 'resource.label.method', 'metric.label.response_code'],
          },
          view: 'FULL',
          pageSize: PAGE_SIZE,
          ...(pageToken ? { pageToken } : {}),
        },
        { autoPaginate: false },
      );
      next = raw?.nextPageToken;
    } catch (err) {
      throw googleError(err, { context: `read request counts of ${credentials.join(', ')} in ${project}` });
    }
    for (const s of series) {
      const requests = (s.points ?? []).reduce((sum, p) => sum + Number(p.value?.int64Value ?? p.value?.doubleValue ?? 0), 0);
      if (requests === 0) continue;
      rows.push({
        credential: s.resource?.labels?.credential_id ?? '',
        method: s.resource?.labels?.method ?? '',
        responseCode: s.metric?.labels?.response_code ?? s.metric?.labels?.response_code_class ?? '',
        requests,
      });
    }
    if (!next) return rows;
    pageToken = next;
  }
  throw new KeylessError({
    type: ErrorType.Transient,
    message: `request counts of ${credentials.join(', ')} in ${project} span more than ${MAX_PAGES} pages; refusing to read further`,
  });
}

function timestamp(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function summarize(rows: CountRow[]): CredentialTraffic {
  const byKey = new Map<string, MethodTraffic>();
  for (const row of rows) {
    const id = `${row.method}\u0000${row.responseCode}`;
    const entry = byKey.get(id) ?? { method: row.method, responseCode: row.responseCode, requests: 0 };
    entry.requests += row.requests;
    byKey.set(id, entry);
  }
  const byMethod = [...byKey.values()].sort((a, b) => b.requests - a.requests || a.method.localeCompare(b.method) || a.responseCode.localeCompare(b.responseCode));
  const requests = byMethod.reduce((sum, m) => sum + m.requests, 0);
  const errors = byMethod.filter((m) => isErrorResponse(m.responseCode)).reduce((sum, m) => sum + m.requests, 0);
  return { requests, errors, errorRate: requests === 0 ? 0 : errors / requests, byMethod };
}
