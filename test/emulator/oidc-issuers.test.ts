// The issuers the emulator simulates: discovery and JWKS on its own origin under the real issuer
// URLs, GitHub Actions' token endpoint for a registered runner, GitLab-shaped tokens, admin minting.
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorUrlOf, type RunningEmulator } from '../../emulator/index';
import { REPOSITORY, startWifEmulator } from './wif-harness';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startWifEmulator();
});
afterAll(() => emu.stop());

const getJson = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text()) as any };
};

function claimsOf(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

/** Verifies a JWT against the issuer's published JWKS with Node's crypto alone. */
async function verifiedByIssuer(jwt: string, issuer: string): Promise<boolean> {
  const discovery = (await getJson(emulatorUrlOf(emu.baseUrl, `${issuer}/.well-known/openid-configuration`)!)).body;
  const { keys } = (await getJson(emulatorUrlOf(emu.baseUrl, discovery.jwks_uri)!)).body as { keys: JsonWebKey[] };
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const kid = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')).kid;
  const jwk = keys.find((k) => (k as { kid?: string }).kid === kid);
  if (!jwk) return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
}

describe('discovery and JWKS', () => {
  it("serves GitHub's discovery document under its real issuer URL, with an RS256 JWKS", async () => {
    const url = emulatorUrlOf(emu.baseUrl, 'https://token.actions.githubusercontent.com/.well-known/openid-configuration');
    expect(url).toBe(`${emu.baseUrl}/oidc-issuers/token.actions.githubusercontent.com/.well-known/openid-configuration`);
    const { status, body } = await getJson(url!);
    expect(status).toBe(200);
    expect(body).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks', id_token_signing_alg_values_supported: ['RS256'] });
    const jwks = (await getJson(emulatorUrlOf(emu.baseUrl, body.jwks_uri)!)).body;
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String), n: expect.any(String), e: 'AQAB' })]);
  });

  it("serves gitlab.com's keys where its discovery says (/oauth/discovery/keys)", async () => {
    const { body } = await getJson(emulatorUrlOf(emu.baseUrl, 'https://gitlab.com/.well-known/openid-configuration')!);
    expect(body).toMatchObject({ issuer: 'https://gitlab.com', jwks_uri: 'https://gitlab.com/oauth/discovery/keys' });
    expect((await getJson(emulatorUrlOf(emu.baseUrl, body.jwks_uri)!)).status).toBe(200);
  });

  it('answers 404 for an issuer it does not simulate', async () => {
    expect((await getJson(emulatorUrlOf(emu.baseUrl, 'https://login.example.com/.well-known/openid-configuration')!)).status).toBe(404);
  });
});

describe('GitHub Actions runner', () => {
  it('answers the request URL with a signed token of the repository, with GitHub’s default audience and about five minutes of life', async () => {
    const runner = emu.registerGithubRunner({ ...REPOSITORY, ref: 'refs/heads/main' });
    expect(runner.ACTIONS_ID_TOKEN_REQUEST_URL).toMatch(/\?api-version=2\.0$/);
    const { status, body } = await getJson(runner.ACTIONS_ID_TOKEN_REQUEST_URL!, { authorization: `bearer ${runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` });
    expect(status).toBe(200);
    const claims = claimsOf(body.value);
    expect(claims).toMatchObject({
      iss: 'https://token.actions.githubusercontent.com',
      aud: 'https://github.com/octo-org',
      sub: 'repo:octo-org/nightly-summarizer:ref:refs/heads/main',
      repository: 'octo-org/nightly-summarizer',
      repository_id: '74',
      repository_owner: 'octo-org',
      repository_owner_id: '65',
      ref: 'refs/heads/main',
      ref_type: 'branch',
      workflow_ref: 'octo-org/nightly-summarizer/.github/workflows/ci.yml@refs/heads/main',
    });
    expect(claims.exp - claims.iat).toBe(300);
    expect(await verifiedByIssuer(body.value, 'https://token.actions.githubusercontent.com')).toBe(true);
  });

  it('uses the audience the job asks for and the environment in sub', async () => {
    const runner = emu.registerGithubRunner({ ...REPOSITORY, environment: 'prod', workflowRef: 'octo-org/nightly-summarizer/.github/workflows/nightly.yml@refs/heads/main' });
    const url = `${runner.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${encodeURIComponent('https://iam.googleapis.com/x')}`;
    const { body } = await getJson(url, { authorization: `Bearer ${runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` });
    expect(claimsOf(body.value)).toMatchObject({ aud: 'https://iam.googleapis.com/x', sub: 'repo:octo-org/nightly-summarizer:environment:prod', environment: 'prod', workflow: 'nightly.yml' });
  });

  it('refuses a wrong or missing request token with 401', async () => {
    const runner = emu.registerGithubRunner(REPOSITORY);
    expect((await getJson(runner.ACTIONS_ID_TOKEN_REQUEST_URL!, { authorization: 'bearer not-the-token' })).status).toBe(401);
    expect((await getJson(runner.ACTIONS_ID_TOKEN_REQUEST_URL!)).status).toBe(401);
  });

  it('gives a job without id-token: write no request URL, as GitHub does', () => {
    const runner = emu.registerGithubRunner({ ...REPOSITORY, idTokenWrite: false });
    expect(runner.ACTIONS_ID_TOKEN_REQUEST_URL).toBeUndefined();
    expect(runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN).toBeUndefined();
  });
});

describe('admin minting', () => {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${emu.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('registers a runner over HTTP', async () => {
    const { status, body } = await post('/admin/v1/oidc/github/runners', { repository: 'octo-org/other', repositoryId: 99, repositoryOwnerId: 65 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ runnerId: expect.any(String), ACTIONS_ID_TOKEN_REQUEST_URL: expect.stringContaining('/github-actions/runners/'), claims: { repository_id: '99' } });
  });

  it('mints a GitLab-shaped token with GitLab’s sub', async () => {
    const { body } = await post('/admin/v1/oidc/gitlab/tokens', { projectPath: 'acme/ops/ticket-triage', projectId: 42, ref: 'main', audience: 'https://gitlab.com' });
    expect(body.claims).toMatchObject({
      iss: 'https://gitlab.com',
      aud: 'https://gitlab.com',
      sub: 'project_path:acme/ops/ticket-triage:ref_type:branch:ref:main',
      project_id: '42',
      project_path: 'acme/ops/ticket-triage',
      namespace_path: 'acme/ops',
      ref: 'main',
      ref_type: 'branch',
    });
    expect(await verifiedByIssuer(body.token, 'https://gitlab.com')).toBe(true);
  });

  it('mints broken tokens on purpose: wrong key, expired, claims removed', async () => {
    const wrongKey = (await post('/admin/v1/oidc/github/tokens', { ...REPOSITORY, signature: 'wrong-key' })).body;
    expect(await verifiedByIssuer(wrongKey.token, 'https://token.actions.githubusercontent.com')).toBe(false);
    const expired = (await post('/admin/v1/oidc/github/tokens', { ...REPOSITORY, expired: true })).body;
    expect(expired.claims.exp).toBeLessThan(Date.now() / 1000 - 60);
    const noSub = (await post('/admin/v1/oidc/github/tokens', { ...REPOSITORY, claims: { sub: null, extra: 'x' } })).body;
    expect(noSub.claims.sub).toBeUndefined();
    expect(noSub.claims.extra).toBe('x');
  });

  it('simulates another issuer once added, and refuses to mint for one it does not', async () => {
    expect((await post('/admin/v1/oidc/tokens', { issuer: 'https://k8s.example.com/cluster-1', claims: { sub: 'system:serviceaccount:jobs:nightly' } })).status).toBe(400);
    expect((await post('/admin/v1/oidc/issuers', { issuer: 'http://k8s.example.com' })).status).toBe(400);
    const added = await post('/admin/v1/oidc/issuers', { issuer: 'https://k8s.example.com/cluster-1' });
    expect(added.body.discoveryUrl).toBe(`${emu.baseUrl}/oidc-issuers/k8s.example.com/cluster-1/.well-known/openid-configuration`);
    const minted = await post('/admin/v1/oidc/tokens', { issuer: 'https://k8s.example.com/cluster-1', audience: 'sts', claims: { sub: 'system:serviceaccount:jobs:nightly' } });
    expect(minted.body.claims).toMatchObject({ iss: 'https://k8s.example.com/cluster-1', aud: 'sts', sub: 'system:serviceaccount:jobs:nightly' });
    expect(await verifiedByIssuer(minted.body.token, 'https://k8s.example.com/cluster-1')).toBe(true);
    const { body } = await getJson(`${emu.baseUrl}/admin/v1/oidc/issuers`);
    expect(body.issuers.map((i: { issuer: string }) => i.issuer)).toEqual(['https://token.actions.githubusercontent.com', 'https://gitlab.com', 'https://k8s.example.com/cluster-1']);
  });
});
