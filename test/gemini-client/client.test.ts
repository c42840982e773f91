// The client against the emulator: real @google/genai calls on both paths, the route read from
// real stores (a directory, a Cloud Storage bucket), route changes, and keyless being down.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoogleClients } from '../../google/clients';
import { fileRouteStore } from '../../route-store';
import { gcsRouteStore } from '../../route-store';
import { routeLocation, type Route } from '../../contracts/route';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { demoBuckets } from '../../emulator/model/fixture';
import { createGeminiClient, routeSourceFromStore, type CallOutcome, type GeminiClientOptions } from '../../gemini-client';
import { startTestCloud, type TestCloud } from '../support/cloud';

const PIPELINE = 'nightly-summarizer';
const ACCOUNT = `${PIPELINE}@${DEMO_PROJECT}.iam.gserviceaccount.com`;
const MODEL = 'gemini-2.5-flash';

let cloud: TestCloud;
let dir: string;
let store: string;
let keyString: string;

beforeAll(async () => {
  cloud = await startTestCloud({
    // The pipeline's account as a finished provision leaves it: it may call Vertex.
    tweak: (fixture) => fixture.serviceAccounts!.push({ project: DEMO_PROJECT, accountId: PIPELINE, roles: ['roles/aiplatform.user'] }),
  });
  dir = await mkdtemp(join(tmpdir(), 'keyless-gemini-client-'));
  store = `file://${dir}`;
  // ticket-triage's key is restricted, so the retirement of unrestricted keys leaves it working.
  const [response] = await cloud.clients.apiKeys.getKeyString({ name: `projects/${DEMO_PROJECT}/locations/global/keys/ticket-triage` });
  keyString = response.keyString!;
});
afterAll(async () => {
  await cloud?.clients.apiKeys.close();
  await cloud?.clients.monitoring.close();
  await cloud?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function tokenFor(email: string): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: cloud.emulator.mintAccessToken(email, 3600) });
  return client;
}

function route(generation: number, vertexPercent: number, pipeline = PIPELINE): Route {
  return { pipeline, generation, vertexPercent, project: DEMO_PROJECT, location: 'global', serviceAccount: ACCOUNT, updatedAt: new Date().toISOString() };
}

async function publish(r: Route, at = store): Promise<void> {
  await fileRouteStore.write(routeLocation(at, r.pipeline, r.project), r);
}

function client(outcomes: CallOutcome[], options: Partial<GeminiClientOptions> = {}) {
  return createGeminiClient({
    pipeline: PIPELINE,
    project: DEMO_PROJECT,
    route: { store },
    apiKey: async () => keyString,
    authClient: tokenFor(ACCOUNT),
    env: { KEYLESS_EMULATOR: cloud.emulator.baseUrl },
    onCall: (o) => outcomes.push(o),
    ...options,
  });
}

const ask = { model: MODEL, contents: 'Summarise in one sentence: the printer on floor 3 jams every morning.' };

describe('createGeminiClient', () => {
  it('uses the key without a route, and Vertex as the account at 100 %, reporting each call', async () => {
    const outcomes: CallOutcome[] = [];
    const alone = join(dir, 'alone');
    const keyOnly = client(outcomes, { route: { store: `file://${alone}` } });
    const viaKey = await keyOnly.models.generateContent(ask);
    await publish(route(1, 100), `file://${alone}`);
    const viaVertex = await client(outcomes, { route: { store: `file://${alone}` } }).models.generateContent(ask);
    expect(viaKey.text).toBeTruthy();
    expect(viaVertex.text).toBeTruthy();
    expect(outcomes.map((o) => [o.authMode, o.status, o.model, o.routeGeneration])).toEqual([
      ['api-key', 200, MODEL, undefined],
      ['vertex', 200, MODEL, 1],
    ]);
    expect(outcomes.every((o) => o.latencyMs >= 0 && !o.routeStale)).toBe(true);
    expect(JSON.stringify(outcomes)).not.toContain(keyString);
  });

  it('per run: every call of a run takes one auth; per call: the calls split around vertexPercent', async () => {
    await publish(route(2, 50));
    const perRun: CallOutcome[] = [];
    const c = client(perRun, { mode: 'per-run' });
    for (let r = 0; r < 12; r++) {
      const run = c.run(`run-${r}`);
      for (let i = 0; i < 3; i++) await run.models.generateContent(ask);
    }
    const modesByRun = new Map<string, Set<string>>();
    for (const o of perRun) modesByRun.set(o.runId, (modesByRun.get(o.runId) ?? new Set()).add(o.authMode));
    expect(modesByRun.size).toBe(12);
    expect([...modesByRun.values()].every((modes) => modes.size === 1)).toBe(true);
    expect(new Set(perRun.map((o) => o.authMode))).toEqual(new Set(['api-key', 'vertex']));

    const perCall: CallOutcome[] = [];
    const pc = client(perCall, { mode: 'per-call', runId: 'run-x' });
    for (let i = 0; i < 40; i++) await pc.models.generateContent(ask);
    const vertex = perCall.filter((o) => o.authMode === 'vertex').length;
    expect(vertex).toBeGreaterThan(8);
    expect(vertex).toBeLessThan(32);
    expect(perCall.every((o) => o.status === 200)).toBe(true);
  });

  it('follows a published route change once its TTL has passed', async () => {
    const ttlMs = 150;
    await publish(route(3, 0));
    const outcomes: CallOutcome[] = [];
    const c = client(outcomes, { ttlMs, mode: 'per-call' });
    await c.models.generateContent(ask);
    await publish(route(4, 100));
    await new Promise((r) => setTimeout(r, ttlMs + 50));
    await c.models.generateContent(ask);
    expect(outcomes.map((o) => [o.authMode, o.routeGeneration])).toEqual([
      ['api-key', 3],
      ['vertex', 4],
    ]);
  });

  it('keeps the last route seen when the store becomes unreadable, and never fails the call for it', async () => {
    const outage = join(dir, 'outage');
    await publish(route(5, 100), `file://${outage}`);
    const outcomes: CallOutcome[] = [];
    const c = client(outcomes, { route: { store: `file://${outage}` }, ttlMs: 0, mode: 'per-call' });
    await c.models.generateContent(ask);
    // A half-written or corrupted document: the store answers, but not with a route.
    await writeFile(join(outage, DEMO_PROJECT, `${PIPELINE}.json`), '{"pipeline": "nightly-summ');
    await c.models.generateContent(ask);
    const view = await c.route();
    expect(outcomes.map((o) => [o.authMode, o.status, o.routeStale])).toEqual([
      ['vertex', 200, false],
      ['vertex', 200, true],
    ]);
    expect(view).toMatchObject({ stale: true, route: { generation: 5 } });
  });

  it('uses the key when the store has been unreachable from the start', async () => {
    // A Cloud Storage store whose endpoint nobody listens on: keyless is down.
    const down = createGoogleClients({ mode: 'emulator', baseUrl: 'http://127.0.0.1:9' }, { authClient: tokenFor(DEMO_ORCHESTRATOR) });
    const outcomes: CallOutcome[] = [];
    const c = client(outcomes, { route: routeSourceFromStore('gs://demo-project-keyless-routes/routes', { pipeline: PIPELINE, project: DEMO_PROJECT }, () => down.storage), routeReadTimeoutMs: 1_000 });
    const response = await c.models.generateContent(ask);
    expect(response.text).toBeTruthy();
    expect(outcomes).toMatchObject([{ authMode: 'api-key', status: 200, routeStale: true, routeGeneration: undefined }]);
    await down.apiKeys.close();
    await down.monitoring.close();
  });

  it('reads the route from Cloud Storage and acts as the route\'s account by impersonation', async () => {
    const bucketStore = `gs://${demoBuckets[0]!.name}/client-test`;
    await gcsRouteStore(cloud.clients.storage).write(routeLocation(bucketStore, PIPELINE, DEMO_PROJECT), route(1, 100));
    const outcomes: CallOutcome[] = [];
    // The orchestrator's credentials read the bucket and mint the pipeline account's tokens.
    const c = client(outcomes, { route: { store: bucketStore }, authClient: tokenFor(DEMO_ORCHESTRATOR), vertexAuth: 'impersonate' });
    await c.models.generateContent(ask);
    expect(outcomes).toMatchObject([{ authMode: 'vertex', status: 200, routeGeneration: 1 }]);
  });

  it('reports a failed call with its status and rethrows the SDK error unchanged', async () => {
    const outcomes: CallOutcome[] = [];
    // ticket-triage's model is not served by Vertex in europe-west4.
    const source = { location: 'inline', read: async () => ({ ...route(1, 100, 'ticket-triage'), location: 'europe-west4' }) };
    const c = client(outcomes, { pipeline: 'ticket-triage', route: source });
    await expect(c.models.generateContent({ ...ask, model: 'gemini-2.5-flash-lite' })).rejects.toMatchObject({ status: 404 });
    expect(outcomes).toMatchObject([{ authMode: 'vertex', status: 404, model: 'gemini-2.5-flash-lite' }]);
  });
});
