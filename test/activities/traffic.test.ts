// readTraffic against the demo emulator's Cloud Monitoring, after real calls with a key (Gemini
// API) and as a service account (Vertex), through the official clients.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { histogramOf, isErrorResponse } from '../../google/monitoring';
import { vertexGenAiAs } from '../../google/impersonation';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';

const KEY = `projects/${DEMO_PROJECT_NUMBER}/locations/global/keys/ticket-triage`;
const GEMINI_METHOD = 'google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent';

let cloud: TestCloud;
let keyUid: string;
let account: { email: string; uniqueId: string };
let windowStart: string;

beforeAll(async () => {
  cloud = await startTestCloud();
  windowStart = new Date(Date.now() - 60_000).toISOString();
  const provision = createActivities({ clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  account = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'ticket-triage', create: true });
  await provision.ensureVertexRole({ project: DEMO_PROJECT, member: account.email });

  const [key] = await cloud.clients.apiKeys.getKey({ name: KEY });
  keyUid = key.uid!;
  // The key path: three answers and one unknown model.
  const [{ keyString }] = await cloud.clients.apiKeys.getKeyString({ name: KEY });
  const gemini = cloud.clients.genai({ kind: 'gemini', apiKey: keyString! });
  for (let i = 0; i < 3; i += 1) await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: `ticket ${i}` });
  await expect(gemini.models.generateContent({ model: 'gemini-0-unknown', contents: 'x' })).rejects.toMatchObject({ status: 404 });

  // The Vertex path as the pipeline account: two answers and one model not served in europe-west4.
  const vertex = await vertexGenAiAs(cloud.clients, account.email, { project: DEMO_PROJECT, location: 'global' });
  for (let i = 0; i < 2; i += 1) await vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: `ticket ${i}` });
  const europe = await vertexGenAiAs(cloud.clients, account.email, { project: DEMO_PROJECT, location: 'europe-west4' });
  await expect(europe.models.generateContent({ model: 'gemini-2.5-flash-lite', contents: 'x' })).rejects.toMatchObject({ status: 404 });
});
afterAll(async () => cloud?.stop());

describe('readTraffic', () => {
  it('counts requests and errors per credential, by method and response code', async () => {
    const traffic = createActivities({ clients: cloud.clients });
    const report = await traffic.readTraffic({
      project: DEMO_PROJECT,
      keyUid,
      serviceAccountUniqueId: account.uniqueId,
      windowStart,
      windowEnd: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(report.key).toEqual({
      requests: 4,
      errors: 1,
      errorRate: 0.25,
      byMethod: [
        { method: GEMINI_METHOD, responseCode: '200', requests: 3 },
        { method: GEMINI_METHOD, responseCode: '404', requests: 1 },
      ],
    });
    expect(report.vertex.requests).toBe(3);
    expect(report.vertex.errors).toBe(1);
    expect(report.vertex.errorRate).toBeCloseTo(1 / 3, 6);
    expect(report.vertex.byMethod.map((m) => [m.method, m.responseCode, m.requests])).toEqual([
      [expect.stringMatching(/aiplatform\.v1beta1\.PredictionService\.GenerateContent$/), '200', 2],
      [expect.stringMatching(/aiplatform\.v1beta1\.PredictionService\.GenerateContent$/), '404', 1],
    ]);
  });

  it('reports zeros for a window without traffic', async () => {
    const traffic = createActivities({ clients: cloud.clients });
    const dayAgo = Date.now() - 86_400_000;
    const report = await traffic.readTraffic({
      project: DEMO_PROJECT,
      keyUid,
      serviceAccountUniqueId: account.uniqueId,
      windowStart: new Date(dayAgo - 3_600_000).toISOString(),
      windowEnd: new Date(dayAgo).toISOString(),
    });
    const none = { requests: 0, errors: 0, errorRate: 0, byMethod: [] };
    expect(report.key).toEqual(none);
    expect(report.vertex).toEqual(none);
  });

  it('reads each credential\'s latency distribution of successful requests, in milliseconds, when asked', async () => {
    const traffic = createActivities({ clients: cloud.clients });
    const report = await traffic.readTraffic({ project: DEMO_PROJECT, keyUid, serviceAccountUniqueId: account.uniqueId, windowStart, windowEnd: new Date(Date.now() + 60_000).toISOString(), latency: true });
    // Three answers on the key and two on Vertex: the 404s are left out.
    expect(report.key.latency?.count).toBe(3);
    expect(report.vertex.latency?.count).toBe(2);
    for (const side of [report.key, report.vertex]) {
      expect(side.latency!.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(side.latency!.count);
      expect(side.latency!.buckets.every((b) => b.upperMs === null || b.upperMs > b.lowerMs)).toBe(true);
    }
    const counts = await traffic.readTraffic({ project: DEMO_PROJECT, keyUid, serviceAccountUniqueId: account.uniqueId, windowStart });
    expect(counts.key.latency).toBeUndefined();
  });

  it('reads any bucket layout of a distribution: exponential, linear or explicit bounds', () => {
    expect(histogramOf({ count: '3', mean: 0.5, bucketOptions: { exponentialBuckets: { numFiniteBuckets: 2, growthFactor: 2, scale: 0.1 } }, bucketCounts: ['0', '1', '0', '2'] })).toEqual({
      count: 3,
      meanMs: 500,
      buckets: [
        { lowerMs: 100, upperMs: 200, count: 1 },
        { lowerMs: 400, upperMs: null, count: 2 },
      ],
    });
    expect(histogramOf({ count: 2, bucketOptions: { linearBuckets: { numFiniteBuckets: 3, width: 0.5, offset: 0 } }, bucketCounts: [0, 0, 2] }).buckets).toEqual([{ lowerMs: 500, upperMs: 1000, count: 2 }]);
    expect(histogramOf({ count: 1, bucketOptions: { explicitBuckets: { bounds: [0.1, 1] } }, bucketCounts: ['1'] }).buckets).toEqual([{ lowerMs: 0, upperMs: 100, count: 1 }]);
  });

  it('counts server errors, auth refusals, missing models and quota as errors, not bad requests', () => {
    expect(['500', '503', '401', '403', '404', '429'].every(isErrorResponse)).toBe(true);
    expect(['200', '400', '409', '499'].some(isErrorResponse)).toBe(false);
  });
});
