// Traffic recorded from the Gemini and Vertex surfaces, read back through the official
// MetricServiceClient (REST fallback) as `serviceruntime.googleapis.com/api/request_count`.

import { MetricServiceClient } from '@google-cloud/monitoring';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, key, PROJECT, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = PROJECT;

const METRIC = 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"';
let h: Harness;
let monitoring: MetricServiceClient;
let startSeconds: number;
let token: string;
const KEY_A = testKeyString('KeyA');
const KEY_MAPS = testKeyString('Maps');
const SA_UNIQUE_ID = '100000000000000007007';

async function post(path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'count me' }] }] }),
  });
  await res.arrayBuffer();
  return res.status;
}
const gemini = (key: string) => post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': key });
const vertex = (location: string, model: string) =>
  post(`/v1/projects/${PROJECT}/locations/${location}/publishers/google/models/${model}:generateContent`, { authorization: `Bearer ${token}` });

beforeAll(async () => {
  h = await startHarness({
    serviceAccounts: [account('caller', ['roles/aiplatform.user', 'roles/monitoring.viewer'], { uniqueId: SA_UNIQUE_ID })],
    keys: [key('key-a', KEY_A), key('maps', KEY_MAPS, { restrictions: { apiTargets: [{ service: 'maps-backend.googleapis.com' }] } })],
  });
  token = h.token(sa('caller'));
  startSeconds = Math.floor(Date.now() / 1000) - 3600;
  // Two minutes of traffic: one request five minutes ago, the rest now.
  h.clock.offsetMs = -5 * 60_000;
  expect(await gemini(KEY_A)).toBe(200);
  h.clock.offsetMs = 0;
  for (let i = 0; i < 3; i++) expect(await gemini(KEY_A)).toBe(200);
  for (let i = 0; i < 2; i++) expect(await gemini(KEY_MAPS)).toBe(403);
  expect(await gemini('AIzaUnknown')).toBe(400);
  for (let i = 0; i < 2; i++) expect(await vertex('us-central1', 'gemini-2.5-flash')).toBe(200);
  expect(await vertex('europe-west4', 'gemini-2.5-flash-lite')).toBe(404);
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  monitoring = new MetricServiceClient({ fallback: true, apiEndpoint: '127.0.0.1', port: h.port, protocol: 'http', authClient });
});
afterAll(async () => {
  await monitoring.close();
  await h.close();
});

const interval = () => ({ startTime: { seconds: startSeconds }, endTime: { seconds: Math.floor(Date.now() / 1000) + 120 } });

describe('timeSeries.list', () => {
  it('sums one credential over the interval', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${METRIC} AND resource.labels.credential_id = "apikey:${h.keyUid(KEY_A)}"`,
      interval: interval(),
      aggregation: { alignmentPeriod: { seconds: 7200 }, perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['resource.labels.credential_id'] },
    });
    expect(series).toHaveLength(1);
    expect(series[0]!.resource?.labels).toEqual({ credential_id: `apikey:${h.keyUid(KEY_A)}` });
    expect(series[0]!.points).toHaveLength(1);
    expect(String(series[0]!.points![0]!.value!.int64Value)).toBe('4');
  });

  it('groups per credential and response class, errors included', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: METRIC,
      interval: interval(),
      aggregation: {
        alignmentPeriod: { seconds: 7200 },
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_SUM',
        groupByFields: ['resource.label.credential_id', 'metric.label.response_code_class'],
      },
    });
    const counts = Object.fromEntries(series.map((s) => [`${s.resource!.labels!.credential_id}/${s.metric!.labels!.response_code_class}`, String(s.points![0]!.value!.int64Value)]));
    expect(counts).toEqual({
      [`apikey:${h.keyUid(KEY_A)}/2xx`]: '4',
      [`apikey:${h.keyUid(KEY_MAPS)}/4xx`]: '2',
      [`serviceaccount:${SA_UNIQUE_ID}/2xx`]: '2',
      [`serviceaccount:${SA_UNIQUE_ID}/4xx`]: '1',
    });
  });

  it('filters error responses with != and starts_with, and one_of on services', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${METRIC} AND metric.labels.response_code_class != "2xx" AND resource.labels.credential_id = starts_with("apikey:") AND resource.label.service = one_of("generativelanguage.googleapis.com", "x")`,
      interval: interval(),
      aggregation: { alignmentPeriod: { seconds: 7200 }, perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' },
    });
    expect(series).toHaveLength(1);
    expect(String(series[0]!.points![0]!.value!.int64Value)).toBe('2');
  });

  it('returns raw per-minute points newest first without aggregation, with full labels', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${METRIC} AND resource.labels.credential_id = "apikey:${h.keyUid(KEY_A)}"`,
      interval: interval(),
    });
    expect(series).toHaveLength(1);
    const s = series[0]!;
    expect(s.resource?.labels).toMatchObject({ project_id: PROJECT, service: 'generativelanguage.googleapis.com', method: 'google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent', version: 'v1beta', location: 'global' });
    expect(s.metric?.labels).toMatchObject({ response_code: '200', response_code_class: '2xx' });
    const values = s.points!.map((p) => String(p.value!.int64Value));
    expect(values).toEqual(['3', '1']);
    expect(Number(s.points![0]!.interval!.endTime!.seconds)).toBeGreaterThan(Number(s.points![1]!.interval!.endTime!.seconds));
  });

  it('answers no series for a credential without traffic, and 400 for a bad filter', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${METRIC} AND resource.labels.credential_id = "apikey:silent"`,
      interval: interval(),
    });
    expect(series).toEqual([]);
    const raw = await fetch(`${h.baseUrl}/v3/projects/${PROJECT}/timeSeries?filter=${encodeURIComponent(`${METRIC} AND resource.labels.credential_id = "apikey:silent"`)}&interval.endTime=${new Date().toISOString()}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await raw.json()).toEqual({});
    await expect(
      monitoring.listTimeSeries({ name: `projects/${PROJECT}`, filter: 'metric.type = = "x"', interval: interval() }),
    ).rejects.toMatchObject({ code: 400 });
  });

  it('pages series and refuses a caller without a token', async () => {
    const url = `${h.baseUrl}/v3/projects/${PROJECT}/timeSeries?filter=${encodeURIComponent(METRIC)}&interval.startTime=${new Date(startSeconds * 1000).toISOString()}&interval.endTime=${new Date(Date.now() + 120_000).toISOString()}&aggregation.alignmentPeriod=7200s&aggregation.perSeriesAligner=ALIGN_SUM&pageSize=2`;
    const first = (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as { timeSeries: unknown[]; nextPageToken?: string };
    expect(first.timeSeries).toHaveLength(2);
    expect(first.nextPageToken).toBeTruthy();
    const second = (await (await fetch(`${url}&pageToken=${first.nextPageToken}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { timeSeries: unknown[] };
    expect(second.timeSeries.length).toBeGreaterThan(0);
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
  });
});
