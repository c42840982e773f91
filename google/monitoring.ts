// Traffic: who still calls Gemini with what, from Cloud Monitoring's consumed-API request count.
// The canary compares the key's and the service account's error rates over a bake window; the
// soak reads the key's traffic to prove it is unused (or to name the methods still using it).

import { ErrorType, KeylessError } from '../contracts/errors';
import type { CredentialTraffic, MethodTraffic, TrafficReport } from '../contracts/reports';
import type { GoogleClients } from './clients';
import { googleError } from './errors';
import type { ReadTrafficInput } from '../contracts/activities';

export type { ReadTrafficInput } from '../contracts/activities';

export type { CredentialTraffic, MethodTraffic, TrafficReport } from '../contracts/reports';

const REQUEST_COUNT = 'serviceruntime.googleapis.com/api/request_count';
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
  return {
    key: summarize(rows.filter((r) => r.credential === keyCredential)),
    vertex: summarize(rows.filter((r) => r.credential === accountCredential)),
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(end).toISOString(),
  };
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
