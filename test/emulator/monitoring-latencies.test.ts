// Latencies the Gemini and Vertex surfaces serve, read back through the official
// MetricServiceClient as `serviceruntime.googleapis.com/api/request_latencies`: a DELTA
// DISTRIBUTION in seconds, aligned with ALIGN_DELTA or ALIGN_SUM; and requests recorded at a
// chosen time through the admin API, counted as served ones are.

import { MetricServiceClient } from '@google-cloud/monitoring';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATENCY_BUCKET_OPTIONS, latencyBucketIndex } from '../../emulator/surfaces/monitoring';
import { account, type Harness, key, PROJECT, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = PROJECT;

const LATENCIES = 'metric.type = "serviceruntime.googleapis.com/api/request_latencies" AND resource.type = "consumed_api"';
const COUNTS = 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"';
const KEY = testKeyString('KeyLatency');
const SA_UNIQUE_ID = '100000000000000008008';
const HOUR = 3_600_000;
let h: Harness;
let monitoring: MetricServiceClient;
let token: string;

async function record(requests: object[]): Promise<Response> {
  return fetch(`${h.baseUrl}/admin/v1/traffic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
}

beforeAll(async () => {
  h = await startHarness({ serviceAccounts: [account('caller', ['roles/aiplatform.user', 'roles/monitoring.viewer'], { uniqueId: SA_UNIQUE_ID })], keys: [key('lat-key', KEY)] });
  token = h.token(sa('caller'));
  // Vertex answered 30 requests in about 2.4 s each, the key 30 in about 0.8 s, two hours ago; one
  // Vertex request failed (latencies count successes only when asked for 2xx).
  const twoHoursAgo = new Date(Date.now() - 2 * HOUR).toISOString();
  const res = await record([
    { time: twoHoursAgo, serviceAccount: sa('caller'), latencyMs: 2400, count: 30 },
    { time: twoHoursAgo, serviceAccount: sa('caller'), latencyMs: 90, responseCode: 503 },
    { time: twoHoursAgo, apiKey: 'lat-key', latencyMs: 800, count: 30 },
  ]);
  expect(await res.json()).toEqual({ recorded: 61 });
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  monitoring = new MetricServiceClient({ fallback: true, apiEndpoint: '127.0.0.1', port: h.port, protocol: 'http', authClient });
});
afterAll(async () => {
  await monitoring.close();
  await h.close();
});

const window = (hoursBack: number) => ({ startTime: { seconds: Math.floor((Date.now() - hoursBack * HOUR) / 1000) }, endTime: { seconds: Math.floor(Date.now() / 1000) + 60 } });
const seconds = (hoursBack: number) => Math.ceil((hoursBack * HOUR) / 1000) + 60;

describe('request_latencies', () => {
  it('answers a DISTRIBUTION in seconds per credential, aligned with ALIGN_DELTA and summed', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND metric.labels.response_code_class = "2xx"`,
      interval: window(3),
      aggregation: { alignmentPeriod: { seconds: seconds(3) }, perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['resource.label.credential_id'] },
    });
    const byCredential = Object.fromEntries(series.map((s) => [s.resource!.labels!.credential_id!, s]));
    const vertex = byCredential[`serviceaccount:${SA_UNIQUE_ID}`]!;
    expect(vertex.valueType).toBe('DISTRIBUTION');
    expect(vertex.metricKind).toBe('DELTA');
    expect(vertex.unit).toBe('s');
    const dist = vertex.points![0]!.value!.distributionValue!;
    expect(Number(dist.count)).toBe(30);
    expect(dist.mean).toBeCloseTo(2.4, 6);
    expect(dist.bucketOptions?.exponentialBuckets).toMatchObject(LATENCY_BUCKET_OPTIONS.exponentialBuckets);
    const counts = dist.bucketCounts!.map(Number);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(counts.length).toBe(latencyBucketIndex(2.4) + 1);
    expect(counts.at(-1)).toBe(30);
    const key = byCredential[`apikey:${h.keyUid(KEY)}`]!.points![0]!.value!.distributionValue!;
    expect(Number(key.count)).toBe(30);
    expect(key.mean).toBeCloseTo(0.8, 6);
  });

  it('gives the same distribution with ALIGN_SUM, a percentile as DOUBLE, and refuses a numeric aligner', async () => {
    const request = (perSeriesAligner: string) => ({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND resource.labels.credential_id = "serviceaccount:${SA_UNIQUE_ID}"`,
      interval: window(3),
      aggregation: { alignmentPeriod: { seconds: seconds(3) }, perSeriesAligner, crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['resource.label.credential_id'] },
    });
    const [summed] = await monitoring.listTimeSeries(request('ALIGN_SUM') as never);
    // The failed request is in this sum: no response-class filter.
    expect(Number(summed[0]!.points![0]!.value!.distributionValue!.count)).toBe(31);
    const [p50] = await monitoring.listTimeSeries(request('ALIGN_PERCENTILE_50') as never);
    expect(p50[0]!.valueType).toBe('DOUBLE');
    const median = p50[0]!.points![0]!.value!.doubleValue!;
    expect(median).toBeGreaterThan(2.4 / Math.SQRT2);
    expect(median).toBeLessThan(2.4 * Math.SQRT2);
    await expect(monitoring.listTimeSeries(request('ALIGN_MEAN') as never)).rejects.toMatchObject({ code: 400 });
  });

  it('counts recorded requests at their time: in a window that covers it, not in a later one', async () => {
    const count = async (hoursBack: number) => {
      const [series] = await monitoring.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter: `${COUNTS} AND resource.labels.credential_id = "apikey:${h.keyUid(KEY)}"`,
        interval: window(hoursBack),
        aggregation: { alignmentPeriod: { seconds: seconds(hoursBack) }, perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' },
      });
      return series.reduce((sum, s) => sum + Number(s.points![0]!.value!.int64Value), 0);
    };
    expect(await count(3)).toBe(30);
    expect(await count(1)).toBe(0);
  });

  it('measures a served Vertex request from its arrival, added latency included', async () => {
    await fetch(`${h.baseUrl}/admin/v1/faults/vertex`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 150 }) });
    try {
      const res = await fetch(`${h.baseUrl}/v1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'time me' }] }] }),
      });
      expect(res.status).toBe(200);
    } finally {
      await fetch(`${h.baseUrl}/admin/v1/faults/vertex`, { method: 'DELETE' });
    }
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND resource.labels.credential_id = "serviceaccount:${SA_UNIQUE_ID}" AND resource.labels.location = "us-central1"`,
      interval: window(0.5),
      aggregation: { alignmentPeriod: { seconds: seconds(0.5) }, perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_SUM' },
    });
    const dist = series[0]!.points![0]!.value!.distributionValue!;
    expect(Number(dist.count)).toBe(1);
    expect(dist.mean).toBeGreaterThanOrEqual(0.15);
  });

  it('refuses a recorded request naming both or neither credential, or an unknown one', async () => {
    expect((await record([{ apiKey: 'lat-key', serviceAccount: sa('caller') }])).status).toBe(400);
    expect((await record([{ latencyMs: 5 }])).status).toBe(400);
    expect((await record([{ apiKey: 'no-such-key' }])).status).toBe(404);
  });
});
