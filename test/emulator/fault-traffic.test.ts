// Injected faults on the generative surfaces are metered like Google's own 429s and 5xx: a canary
// reading `request_count` through the official MetricServiceClient sees an outage, under the
// caller's credential, and unattributable calls are not counted.

import { MetricServiceClient } from '@google-cloud/monitoring';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, key, PROJECT, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = PROJECT;

const METRIC = 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"';
const KEY = testKeyString('Fault');
const SA_UNIQUE_ID = '100000000000000004242';
let h: Harness;
let monitoring: MetricServiceClient;
let token: string;
const startSeconds = Math.floor(Date.now() / 1000) - 600;

async function post(path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'are you there' }] }] }),
  });
  await res.arrayBuffer();
  return res.status;
}
const vertex = (bearer: string) =>
  post(`/v1beta1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`, { authorization: `Bearer ${bearer}` });
const gemini = (apiKey: string) => post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': apiKey });

async function admin(method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${h.baseUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  await res.arrayBuffer();
  return res.status;
}

/** Request counts over the test's interval, summed per credential and response code. */
async function countsBy(filter = ''): Promise<Record<string, string>> {
  const [series] = await monitoring.listTimeSeries({
    name: `projects/${PROJECT}`,
    filter: `${METRIC}${filter}`,
    interval: { startTime: { seconds: startSeconds }, endTime: { seconds: Math.floor(Date.now() / 1000) + 120 } },
    aggregation: {
      alignmentPeriod: { seconds: 3600 },
      perSeriesAligner: 'ALIGN_SUM',
      crossSeriesReducer: 'REDUCE_SUM',
      groupByFields: ['resource.label.credential_id', 'metric.label.response_code'],
    },
  });
  return Object.fromEntries(series.map((s) => [`${s.resource!.labels!.credential_id}/${s.metric!.labels!.response_code}`, String(s.points![0]!.value!.int64Value)]));
}

beforeAll(async () => {
  h = await startHarness({
    serviceAccounts: [account('canary', ['roles/aiplatform.user', 'roles/monitoring.viewer'], { uniqueId: SA_UNIQUE_ID })],
    keys: [key('pipeline', KEY)],
  });
  token = h.token(sa('canary'));
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  monitoring = new MetricServiceClient({ fallback: true, apiEndpoint: '127.0.0.1', port: h.port, protocol: 'http', authClient });
});
afterAll(async () => {
  await monitoring.close();
  await h.close();
});

describe('injected faults in Cloud Monitoring', () => {
  it('given a burst of 503s on Vertex, the service account request_count shows them next to its successes', async () => {
    expect(await admin('PUT', '/admin/v1/faults/vertex', { failNext: { count: 3, status: 503 } })).toBe(200);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await vertex(token));
    expect(statuses).toEqual([503, 503, 503, 200]);

    const counts = await countsBy(` AND resource.labels.service = "aiplatform.googleapis.com"`);
    expect(counts).toEqual({ [`serviceaccount:${SA_UNIQUE_ID}/503`]: '3', [`serviceaccount:${SA_UNIQUE_ID}/200`]: '1' });
  });

  it('counts 429s on the Gemini API under the key, and nothing for a key or token that does not resolve', async () => {
    expect(await admin('PUT', '/admin/v1/faults/gemini', { errorRates: { '429': 1 } })).toBe(200);
    expect(await admin('PUT', '/admin/v1/faults/vertex', { errorRates: { '500': 1 } })).toBe(200);
    expect(await gemini(KEY)).toBe(429);
    expect(await gemini(KEY)).toBe(429);
    expect(await gemini('AIzaNotAKeyOfThisEstate')).toBe(429);
    expect(await vertex('not-a-token')).toBe(500);
    expect(await admin('DELETE', '/admin/v1/faults')).toBe(200);

    const counts = await countsBy();
    expect(counts).toEqual({
      [`apikey:${h.keyUid(KEY)}/429`]: '2',
      [`serviceaccount:${SA_UNIQUE_ID}/503`]: '3',
      [`serviceaccount:${SA_UNIQUE_ID}/200`]: '1',
    });
  });

  it('labels a fault with the method and location it interrupted', async () => {
    const [series] = await monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${METRIC} AND metric.labels.response_code = "503"`,
      interval: { startTime: { seconds: startSeconds }, endTime: { seconds: Math.floor(Date.now() / 1000) + 120 } },
    });
    expect(series).toHaveLength(1);
    expect(series[0]!.resource?.labels).toMatchObject({
      project_id: PROJECT,
      service: 'aiplatform.googleapis.com',
      method: 'google.cloud.aiplatform.v1beta1.PredictionService.GenerateContent',
      version: 'v1beta1',
      location: 'us-central1',
    });
    expect(series[0]!.metric?.labels).toMatchObject({ response_code_class: '5xx', grpc_status_code: '14' });
  });
});
