// Google's own Node libraries walk the keyless runtime path against the emulator: google-auth-library
// loads an external_account configuration through GOOGLE_APPLICATION_CREDENTIALS (a GitHub-style
// url source and a file source), exchanges the CI token at STS, impersonates the pipeline's
// account and reaches Vertex, where Monitoring counts the call under that account. Only the
// endpoints in the configuration differ from Google's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../emulator/index';
import { CLOUD_PLATFORM, githubActionsConfig, githubAudience, PROJECT, REPOSITORY, RUNNER_SA, RUNNER_UNIQUE_ID, startWifEmulator, UNBOUND_SA, vertexCallsOf } from './wif-harness';
import { rejection } from './core-harness';

const VERTEX_PATH = `/v1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`;

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startWifEmulator();
  dir = await mkdtemp(join(tmpdir(), 'keyless-wif-node-'));
});
afterEach(() => {
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
});
afterAll(async () => {
  await emu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function useCredentials(name: string, config: unknown): Promise<void> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(config, null, 2));
  process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
}

describe('google-auth-library with an external_account configuration', () => {
  it('given a GitHub Actions job of the pinned repository, when @google/genai calls Vertex through ADC, then the call is made as the pipeline account', async () => {
    await useCredentials('github-url', githubActionsConfig(emu, emu.registerGithubRunner(REPOSITORY), RUNNER_SA));
    const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
    const client = await auth.getClient();
    expect(client.constructor.name).toBe('IdentityPoolClient');
    expect(await auth.getAccessToken()).toMatch(/^ya29\.c\./);

    const genai = new GoogleGenAI({ vertexai: true, project: PROJECT, location: 'us-central1', httpOptions: { baseUrl: emu.baseUrl } });
    const response = await genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarize last night in one line.' });
    expect(response.text?.length).toBeGreaterThan(0);
    expect(await vertexCallsOf(emu, RUNNER_UNIQUE_ID)).toEqual({ '200': 1 });
  });

  it('given a token file (a file credential_source), when an authenticated request calls Vertex, then it succeeds as the account', async () => {
    const { token } = await emu.mintGithubToken(REPOSITORY, { audience: githubAudience() });
    const tokenFile = join(dir, 'github-token.jwt');
    await writeFile(tokenFile, token);
    const { credential_source: _url, ...base } = githubActionsConfig(emu, emu.registerGithubRunner(REPOSITORY), RUNNER_SA);
    await useCredentials('github-file', { ...base, credential_source: { file: tokenFile } });
    const client = await new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getClient();
    const res = await client.request<{ candidates: unknown[] }>({
      url: `${emu.baseUrl}${VERTEX_PATH}`,
      method: 'POST',
      data: { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] },
    });
    expect(res.status).toBe(200);
    expect(res.data.candidates.length).toBe(1);
    expect((await vertexCallsOf(emu, RUNNER_UNIQUE_ID))['200']).toBe(2);
  });

  it('given a job of another repository id, when google-auth exchanges its token, then STS refuses it with Google’s error', async () => {
    await useCredentials('other-repo', githubActionsConfig(emu, emu.registerGithubRunner({ ...REPOSITORY, repositoryId: '75' }), RUNNER_SA));
    const err = await rejection(new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getAccessToken());
    expect(String(err.message)).toContain('unauthorized_client');
    expect(String(err.message)).toContain('The given credential is rejected by the attribute condition.');
    expect(err.response?.status ?? err.cause?.response?.status).toBe(400);
  });

  it('given an account that does not grant workloadIdentityUser, when google-auth impersonates it, then IAM Credentials answers 403', async () => {
    await useCredentials('unbound', githubActionsConfig(emu, emu.registerGithubRunner(REPOSITORY), UNBOUND_SA));
    const err = await rejection(new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getAccessToken());
    expect(err.response?.status).toBe(403);
    expect(JSON.stringify(err.response?.data)).toContain("Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
  });
});
