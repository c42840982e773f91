// Security Token Service token exchange on the wire: what a valid CI token gets, and Google's
// refusal (status and body) for each way a token or provider can be wrong; then what the federated
// token may do at IAM Credentials.
import { generateKeyPairSync, createSign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GithubJob, RunningEmulator } from '../../emulator/index';
import { CLOUD_PLATFORM, DISABLED_PROVIDER, exchange, GITHUB_PROVIDER, GITLAB_PROJECT, GITLAB_PROVIDER, githubAudience, POOL, PROJECT, REPOSITORY, RUNNER_SA, startWifEmulator, UNBOUND_SA } from './wif-harness';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startWifEmulator();
});
afterAll(() => emu.stop());

const githubToken = async (options: Parameters<RunningEmulator['mintGithubToken']>[1] = {}, job: Partial<GithubJob> = {}) =>
  (await emu.mintGithubToken({ ...REPOSITORY, ...job }, { audience: githubAudience(), ...options })).token;

const ownerToken = async () => {
  const res = await fetch(`${emu.baseUrl}/admin/v1/users/operator@example.com:mintAccessToken`, { method: 'POST' });
  return ((await res.json()) as { accessToken: string }).accessToken;
};

async function rest(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${emu.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const generateAccessToken = (federated: string, account: string) =>
  rest('POST', `/v1/projects/-/serviceAccounts/${account}:generateAccessToken`, federated, { scope: [CLOUD_PLATFORM], lifetime: '3600s' });

describe('STS token exchange', () => {
  it('exchanges a GitHub token of the pinned repository for a federated access token that lives as long as the token', async () => {
    const { status, body } = await exchange(emu, await githubToken());
    expect(status).toBe(200);
    expect(body).toEqual({ access_token: expect.stringMatching(/^ya29\.d\./), issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: expect.any(Number) });
    expect(body.expires_in).toBeGreaterThan(290);
    expect(body.expires_in).toBeLessThanOrEqual(300);
  });

  it('accepts the JSON body with camelCase fields that discovery-based clients send', async () => {
    const res = await fetch(emu.stsTokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: `//iam.googleapis.com/${GITHUB_PROVIDER}`,
        scope: CLOUD_PLATFORM,
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        subjectToken: await githubToken(),
        subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
      }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token_type: string }).token_type).toBe('Bearer');
  });

  it.each([
    ['another repository id', { repositoryId: '75' }, {}, { error: 'unauthorized_client', error_description: 'The given credential is rejected by the attribute condition.' }],
    ['the same repository name under another owner id', { repositoryOwnerId: '66' }, {}, { error: 'unauthorized_client', error_description: 'The given credential is rejected by the attribute condition.' }],
    ['GitHub’s default audience', {}, { audience: 'https://github.com/octo-org' }, { error: 'invalid_grant', error_description: 'The audience in ID Token [https://github.com/octo-org] does not match the expected audience.' }],
    ['a signature by another key', {}, { signature: 'wrong-key' as const }, { error: 'invalid_grant', error_description: 'Unable to verify the ID Token signature.' }],
    ['a key id the issuer does not publish', {}, { signature: 'unknown-kid' as const }, { error: 'invalid_grant', error_description: "Error connecting to the given credential's issuer." }],
    ['another issuer', {}, { claims: { iss: 'https://gitlab.com' } }, { error: 'invalid_grant', error_description: 'The issuer in ID Token https://gitlab.com does not match the expected one in config: https://token.actions.githubusercontent.com.' }],
  ])('refuses a token with %s: 400 with Google’s error', async (_what, job, options, expected) => {
    expect(await exchange(emu, await githubToken(options, job))).toEqual({ status: 400, body: expected });
  });

  it('refuses an expired token as stale', async () => {
    const token = await githubToken({ expired: true });
    const iat = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).iat;
    expect(await exchange(emu, token)).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: `ID Token issued at ${iat} is stale to sign-in.` } });
  });

  it('refuses a disabled provider, an unknown one and a project id in the audience with invalid_target', async () => {
    const invalidTarget = { error: 'invalid_target', error_description: 'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.' };
    const token = await githubToken({ audience: githubAudience(DISABLED_PROVIDER) });
    expect(await exchange(emu, token, `//iam.googleapis.com/${DISABLED_PROVIDER}`)).toEqual({ status: 400, body: invalidTarget });
    expect(await exchange(emu, token, `//iam.googleapis.com/${POOL}/providers/nope`)).toEqual({ status: 400, body: invalidTarget });
    expect(await exchange(emu, token, `//iam.googleapis.com/projects/${PROJECT}/locations/global/workloadIdentityPools/keyless/providers/nightly-gh`)).toEqual({ status: 400, body: invalidTarget });
    const malformed = await exchange(emu, token, POOL);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_request');
    expect(malformed.body.error_description).toMatch(/^Invalid value for "audience"\. This value should be the full resource name of the Identity Provider\./);
  });

  it('stops exchanging for a provider once it is deleted through the API', async () => {
    const owner = await ownerToken();
    const path = `/v1/projects/${PROJECT}/locations/global/workloadIdentityPools/keyless/providers`;
    const created = await rest('POST', `${path}?workloadIdentityPoolProviderId=short-gh`, owner, {
      attributeMapping: { 'google.subject': 'assertion.sub' },
      attributeCondition: `assertion.repository_id == '${REPOSITORY.repositoryId}'`,
      oidc: { issuerUri: 'https://token.actions.githubusercontent.com' },
    });
    expect(created.status).toBe(200);
    const provider = `${POOL}/providers/short-gh`;
    const token = await githubToken({ audience: githubAudience(provider) });
    expect((await exchange(emu, token, `//iam.googleapis.com/${provider}`)).status).toBe(200);
    expect((await rest('DELETE', `${path}/short-gh`, owner)).status).toBe(200);
    expect((await exchange(emu, token, `//iam.googleapis.com/${provider}`)).body.error).toBe('invalid_target');
  });

  it('exchanges a GitLab token for the pinned project and refuses another project', async () => {
    const ok = await emu.mintGitlabToken({ ...GITLAB_PROJECT }, { audience: 'https://gitlab.com' });
    expect((await exchange(emu, ok.token, `//iam.googleapis.com/${GITLAB_PROVIDER}`)).status).toBe(200);
    const other = await emu.mintGitlabToken({ ...GITLAB_PROJECT, projectId: '43' }, { audience: 'https://gitlab.com' });
    expect(await exchange(emu, other.token, `//iam.googleapis.com/${GITLAB_PROVIDER}`)).toEqual({
      status: 400,
      body: { error: 'unauthorized_client', error_description: 'The given credential is rejected by the attribute condition.' },
    });
  });

  it("verifies against a provider's own jwksJson for an issuer nobody serves", async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
    const issuer = 'https://ci.invalid/host-rsa';
    const owner = await ownerToken();
    const created = await rest('POST', `/v1/projects/${PROJECT}/locations/global/workloadIdentityPools/keyless/providers?workloadIdentityPoolProviderId=self-held`, owner, {
      attributeMapping: { 'google.subject': 'assertion.sub' },
      oidc: { issuerUri: issuer, allowedAudiences: ['self-held'], jwksJson: JSON.stringify({ keys: [jwk] }) },
    });
    expect(created.status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: issuer, sub: 'job:1', aud: 'self-held', iat: now, exp: now + 600 })).toString('base64url')}`;
    const token = `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    const { status, body } = await exchange(emu, token, `//iam.googleapis.com/${POOL}/providers/self-held`);
    expect(status).toBe(200);
    expect(body.expires_in).toBeGreaterThan(590);
  });
});

describe('direct resource access with a federated token', () => {
  it('calls Vertex as the pool principal once the project grants its principalSet the role', async () => {
    const federated = (await exchange(emu, await githubToken())).body.access_token;
    const vertex = `/v1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`;
    const prompt = { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] };
    const before = await rest('POST', vertex, federated, prompt);
    expect(before.status).toBe(403);
    expect(before.body.error.message).toContain("Permission 'aiplatform.endpoints.predict' denied");

    const owner = await ownerToken();
    const policy = await rest('POST', `/v3/projects/${PROJECT}:getIamPolicy`, owner, {});
    const member = `principalSet://iam.googleapis.com/${POOL}/attribute.repository_id/${REPOSITORY.repositoryId}`;
    const set = await rest('POST', `/v3/projects/${PROJECT}:setIamPolicy`, owner, { policy: { ...policy.body, bindings: [...policy.body.bindings, { role: 'roles/aiplatform.user', members: [member] }] } });
    expect(set.status).toBe(200);
    expect((await rest('POST', vertex, federated, prompt)).status).toBe(200);
  });
});

describe('IAM Credentials with a federated token', () => {
  it('mints an account token when the account grants workloadIdentityUser to the repository’s principalSet', async () => {
    const federated = (await exchange(emu, await githubToken())).body.access_token;
    const { status, body } = await generateAccessToken(federated, RUNNER_SA);
    expect(status).toBe(200);
    expect(body.accessToken).toMatch(/^ya29\.c\./);
  });

  it('refuses an account that grants the principal nothing with 403 iam.serviceAccounts.getAccessToken', async () => {
    const federated = (await exchange(emu, await githubToken())).body.access_token;
    const { status, body } = await generateAccessToken(federated, UNBOUND_SA);
    expect(status).toBe(403);
    expect(body.error).toMatchObject({
      code: 403,
      status: 'PERMISSION_DENIED',
      message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED', metadata: { permission: 'iam.serviceAccounts.getAccessToken' } }],
    });
  });

  it("matches principal://…/subject/… bindings, and stops honouring tokens of a disabled pool until it is enabled again", async () => {
    const owner = await ownerToken();
    const federated = (await exchange(emu, await githubToken())).body.access_token;
    const subject = 'repo:octo-org/nightly-summarizer:ref:refs/heads/main';
    const policy = await rest('POST', `/v1/projects/${PROJECT}/serviceAccounts/${UNBOUND_SA}:getIamPolicy`, owner);
    const set = await rest('POST', `/v1/projects/${PROJECT}/serviceAccounts/${UNBOUND_SA}:setIamPolicy`, owner, {
      policy: { ...policy.body, bindings: [{ role: 'roles/iam.workloadIdentityUser', members: [`principal://iam.googleapis.com/${POOL}/subject/${subject}`] }] },
    });
    expect(set.status).toBe(200);
    expect((await generateAccessToken(federated, UNBOUND_SA)).status).toBe(200);

    const poolPath = `/v1/projects/${PROJECT}/locations/global/workloadIdentityPools/keyless`;
    expect((await rest('PATCH', `${poolPath}?updateMask=disabled`, owner, { disabled: true })).status).toBe(200);
    try {
      expect((await generateAccessToken(federated, UNBOUND_SA)).status).toBe(401);
      expect((await exchange(emu, await githubToken())).body.error).toBe('invalid_target');
    } finally {
      await rest('PATCH', `${poolPath}?updateMask=disabled`, owner, { disabled: false });
    }
    expect((await generateAccessToken(federated, UNBOUND_SA)).status).toBe(200);
  });
});
