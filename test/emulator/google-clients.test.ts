import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../../google/clients';
import { ORCHESTRATOR, PARENT, PROJECT, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;
let clients: GoogleClients;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  // The embedded default: plain ADC resolves through the emulator's metadata server.
  const env = await h.emu.envFor(ORCHESTRATOR);
  Object.assign(process.env, env);
  delete process.env.METADATA_SERVER_DETECTION;
  clients = createGoogleClients(endpointConfigFromEnv(process.env));
});
afterAll(async () => {
  await clients?.apiKeys.close();
  await clients?.monitoring.close();
  await h.stop();
});

describe('endpointConfigFromEnv', () => {
  it('chooses Google without KEYLESS_EMULATOR and the emulator with it', () => {
    expect(endpointConfigFromEnv({})).toEqual({ mode: 'google' });
    expect(endpointConfigFromEnv({ KEYLESS_EMULATOR: '  ' })).toEqual({ mode: 'google' });
    expect(endpointConfigFromEnv({ KEYLESS_EMULATOR: 'http://127.0.0.1:8085/' })).toEqual({ mode: 'emulator', baseUrl: 'http://127.0.0.1:8085' });
    expect(() => endpointConfigFromEnv({ KEYLESS_EMULATOR: 'not a url' })).toThrow();
  });
});

describe('createGoogleClients against the emulator through ADC', () => {
  it('authenticates every admin client as the orchestrator via the metadata server', async () => {
    const [keys] = await clients.apiKeys.listKeys({ parent: PARENT });
    expect(keys.length).toBeGreaterThanOrEqual(4);
    const { data: account } = await clients.iam.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${ORCHESTRATOR}` });
    expect(account.email).toBe(ORCHESTRATOR);
    const { data: policy } = await clients.resourceManager.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    expect(policy.etag).toBeTruthy();
    const { data: v1 } = await clients.resourceManagerV1.projects.getIamPolicy({ resource: PROJECT, requestBody: {} });
    expect(v1.etag).toBe(policy.etag);
    const { data: token } = await clients.iamCredentials.projects.serviceAccounts.generateAccessToken({
      name: `projects/-/serviceAccounts/${ORCHESTRATOR}`,
      requestBody: { scope: ['https://www.googleapis.com/auth/cloud-platform'] },
    });
    expect(token.accessToken).toMatch(/^ya29\./);
  });

  it('reaches Monitoring, Storage and both Gemini endpoints at the same origin', async () => {
    const [series] = await clients.monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"',
      interval: { startTime: { seconds: Math.floor(Date.now() / 1000) - 3600 }, endTime: { seconds: Math.floor(Date.now() / 1000) } },
    });
    expect(Array.isArray(series)).toBe(true);
    const file = clients.storage.bucket('demo-project-keyless-routes').file('routes/google-clients-test.json');
    // Resumable uploads to a custom endpoint start their session without credentials (storage 7.22): one-shot upload.
    await file.save(JSON.stringify({ ok: true }), { contentType: 'application/json', resumable: false });
    const [content] = await file.download();
    expect(JSON.parse(content.toString())).toEqual({ ok: true });
    // The orchestrator holds no roles/aiplatform.user: Vertex answers as that principal with 403.
    const vertex = clients.genai({ kind: 'vertex', project: PROJECT, location: 'global' });
    const denied = await vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello' }).catch((err: unknown) => err);
    expect((denied as { status?: number }).status).toBe(403);
    expect(String((denied as Error).message)).toContain('aiplatform.endpoints.predict');
    const [{ keyString }] = await clients.apiKeys.getKeyString({ name: `${PARENT}/keys/ticket-triage` });
    const gemini = clients.genai({ kind: 'gemini', apiKey: keyString! });
    const answer = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello' });
    expect(answer.text?.length ?? 0).toBeGreaterThan(0);
  });

  it('impersonates a pipeline account granted roles/aiplatform.user and calls Vertex as it', async () => {
    const { data: account } = await clients.iam.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'vertex-runner' } });
    const { data: policy } = await clients.resourceManager.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    await clients.resourceManager.projects.setIamPolicy({
      resource: `projects/${PROJECT}`,
      requestBody: { policy: { ...policy, bindings: [...policy.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:${account.email}`] }] } },
    });
    const asRunner = await clients.impersonate(account.email!, { lifetimeSeconds: 600 });
    const vertex = clients.genai({ kind: 'vertex', project: PROJECT, location: 'global' }, { authClient: asRunner });
    // The demo's IAM propagation delay (5 s) has not passed yet: Google answers 403 meanwhile.
    const early = await vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello' }).catch((err: unknown) => err);
    expect((early as { status?: number }).status).toBe(403);
    await h.admin('POST', '/admin/v1/clock', { advanceSeconds: 10 });
    const answer = await vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello' });
    expect(answer.modelVersion).toBe('gemini-2.5-flash');
    const europe = clients.genai({ kind: 'vertex', project: PROJECT, location: 'europe-west4' }, { authClient: asRunner });
    const missing = await europe.models.generateContent({ model: 'gemini-2.5-flash-lite', contents: 'hello' }).catch((err: unknown) => err);
    expect((missing as { status?: number }).status).toBe(404);
    expect(clients.endpoints.apiKeys).toBe(h.baseUrl);
  });
});

