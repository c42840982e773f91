// Vertex AI generateContent through the official @google/genai client in Vertex mode.

import { ApiError, GoogleGenAI } from '@google/genai';
import { cloudresourcemanager } from '@googleapis/cloudresourcemanager';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, key, PROJECT, PROJECT_NUMBER, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = PROJECT;

const LATE_SA = sa('late-pipeline');
const DELAY_MS = 60_000;
const KEY = testKeyString('unrestricted');

let h: Harness;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  h = await startHarness({
    iamPropagationDelaySeconds: DELAY_MS / 1000,
    serviceAccounts: [account('pipeline', ['roles/aiplatform.user']), account('norole'), account('late-pipeline'), account('iam-admin', ['roles/resourcemanager.projectIamAdmin'])],
    keys: [key('unrestricted', KEY)],
  });
  for (const id of ['pipeline', 'norole', 'late-pipeline', 'iam-admin']) tokens[id] = h.token(sa(id));
});
afterAll(async () => h.close());

const staticAuth = (token: string) => {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  return authClient;
};

function vertex(account: string, location = 'global', apiVersion?: string): GoogleGenAI {
  const authClient = staticAuth(tokens[account] ?? account);
  return new GoogleGenAI({
    vertexai: true,
    project: PROJECT,
    location,
    httpOptions: { baseUrl: h.baseUrl, ...(apiVersion ? { apiVersion } : {}) },
    googleAuthOptions: { authClient },
  });
}

async function failure(call: Promise<unknown>): Promise<{ status: number; error: { status: string; message: string; details?: { reason?: string; domain?: string; metadata?: Record<string, string> }[] } }> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return { status: (err as ApiError).status, error: (JSON.parse((err as ApiError).message) as { error: never }).error };
  }
  throw new Error('expected the call to fail');
}

const PROMPT = 'Write the nightly summary of failed invoice exports and their customers';
const ask = (ai: GoogleGenAI, model = 'gemini-2.5-flash') => ai.models.generateContent({ model, contents: PROMPT, config: { temperature: 0, seed: 1 } });

describe('Vertex generateContent', () => {
  it('answers a service account with the role, on v1beta1 and v1, global and regional', async () => {
    const a = await ask(vertex('pipeline'));
    expect(a.text).toBeTruthy();
    expect(a.modelVersion).toBe('gemini-2.5-flash');
    expect(a.usageMetadata?.promptTokenCount).toBe(Math.ceil(PROMPT.length / 4));
    const b = await ask(vertex('pipeline', 'us-central1', 'v1'));
    expect(b.text).toBe(a.text);
    const c = await ask(vertex('pipeline', 'europe-west4'));
    expect(c.text).toBe(a.text);
  });

  it('diverges from the Gemini API only in a few words, and resolves aliases per endpoint', async () => {
    const onVertex = (await ask(vertex('pipeline'))).text!.split(' ');
    const gemini = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: h.baseUrl } });
    const onGemini = (await ask(gemini)).text!.split(' ');
    expect(onVertex.length).toBe(onGemini.length);
    const same = onVertex.filter((w, i) => w === onGemini[i]).length;
    expect(same / onVertex.length).toBeGreaterThan(0.8);
    const alias = await ask(vertex('pipeline'), 'gemini-flash-latest');
    expect(alias.modelVersion).toBe('gemini-2.5-flash');
    expect((await ask(gemini, 'gemini-flash-latest')).modelVersion).toBe('gemini-2.5-flash-preview-09-2025');
  });

  it('answers 404 for a model not served in the location', async () => {
    const f = await failure(ask(vertex('pipeline', 'europe-west4'), 'gemini-2.5-flash-lite'));
    expect(f.status).toBe(404);
    expect(f.error.status).toBe('NOT_FOUND');
    expect(f.error.message).toBe(
      'Publisher Model `projects/demo-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash-lite` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions',
    );
    expect((await ask(vertex('pipeline', 'us-central1'), 'gemini-2.5-flash-lite')).text).toBeTruthy();
  });

  it('denies a principal without the role with IAM_PERMISSION_DENIED', async () => {
    const f = await failure(ask(vertex('norole')));
    expect(f.status).toBe(403);
    expect(f.error.status).toBe('PERMISSION_DENIED');
    const resource = '//aiplatform.googleapis.com/projects/demo-project/locations/global/publishers/google/models/gemini-2.5-flash';
    expect(f.error.message).toBe(`Permission 'aiplatform.endpoints.predict' denied on resource '${resource}' (or it may not exist).`);
    expect(f.error.details?.[0]).toMatchObject({ reason: 'IAM_PERMISSION_DENIED', domain: 'aiplatform.googleapis.com', metadata: { permission: 'aiplatform.endpoints.predict', resource } });
  });

  it('honours a new binding only after the propagation delay', async () => {
    const crm = cloudresourcemanager({ version: 'v1', rootUrl: `${h.baseUrl}/`, auth: staticAuth(tokens['iam-admin']!) });
    const { data: policy } = await crm.projects.getIamPolicy({ resource: PROJECT, requestBody: {} });
    policy.bindings = [...(policy.bindings ?? []), { role: 'roles/aiplatform.user', members: [`serviceAccount:${LATE_SA}`] }];
    await crm.projects.setIamPolicy({ resource: PROJECT, requestBody: { policy } });
    expect((await failure(ask(vertex('late-pipeline')))).status).toBe(403);
    h.clock.offsetMs += DELAY_MS + 1_000;
    try {
      expect((await ask(vertex('late-pipeline'))).text).toBeTruthy();
    } finally {
      h.clock.offsetMs -= DELAY_MS + 1_000;
    }
  });

  it('refuses API keys and bad tokens with 401', async () => {
    const keyed = new GoogleGenAI({ vertexai: true, apiKey: KEY, project: PROJECT, location: 'global', httpOptions: { baseUrl: h.baseUrl } });
    const f = await failure(ask(keyed));
    expect(f.status).toBe(401);
    expect(f.error.details?.[0]?.reason).toBe('CREDENTIALS_MISSING');
    expect(f.error.message).toMatch(/^API keys are not supported by this API/);
    const bad = await failure(ask(vertex('tok-unknown')));
    expect(bad.status).toBe(401);
    expect(bad.error.status).toBe('UNAUTHENTICATED');
  });

  it('accepts the project number in the path and counts tokens', async () => {
    const res = await fetch(`${h.baseUrl}/v1/projects/${PROJECT_NUMBER}/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.pipeline}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'abcdefghij' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ totalTokens: 3, totalBillableCharacters: 10 });
    const counted = await vertex('pipeline').models.countTokens({ model: 'gemini-2.5-flash', contents: 'abcd' });
    expect(counted.totalTokens).toBe(1);
  });
});
