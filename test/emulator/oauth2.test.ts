import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JWT } from 'google-auth-library';
import { ORCHESTRATOR, PARENT, PROJECT, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;
let credentialsDir: string;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function assertion(claims: Record<string, unknown>, privateKey: string, kid?: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', ...(kid ? { kid } : {}) })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${body}`).sign(privateKey).toString('base64url');
  return `${header}.${body}.${signature}`;
}

async function postToken(form: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: await res.json() };
}

const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  credentialsDir = await mkdtemp(join(tmpdir(), 'keyless-creds-'));
  h = await startCoreHarness('demo', { credentialsDir });
});
afterAll(() => h.stop());

describe('OAuth2 token endpoint and key files', () => {
  it('writes a key file per fixture account with token_uri at the emulator', async () => {
    const files = (await readdir(credentialsDir)).sort();
    expect(files).toEqual([`ci-deployer@${PROJECT}.iam.gserviceaccount.com.json`, `feedback-tagger@${PROJECT}.iam.gserviceaccount.com.json`, `${ORCHESTRATOR}.json`]);
    const key = JSON.parse(await readFile(join(credentialsDir, `${ORCHESTRATOR}.json`), 'utf8'));
    expect(key).toMatchObject({ type: 'service_account', project_id: PROJECT, client_email: ORCHESTRATOR, token_uri: `${h.baseUrl}/token` });
    expect(key.private_key).toContain('BEGIN PRIVATE KEY');
    expect((await stat(join(credentialsDir, `${ORCHESTRATOR}.json`))).mode & 0o777).toBe(0o600);
  });

  it('exchanges a signed JWT-bearer assertion for an access token that works', async () => {
    const key = JSON.parse(await readFile(join(credentialsDir, `${ORCHESTRATOR}.json`), 'utf8'));
    const jwt = assertion({ iss: key.client_email, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: key.token_uri, iat: now(), exp: now() + 3600 }, key.private_key, key.private_key_id);
    const { status, body } = await postToken({ grant_type: JWT_BEARER, assertion: jwt });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(body.access_token).toMatch(/^ya29\./);
    const res = await fetch(`${h.baseUrl}/v2/${PARENT}/keys`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(res.status).toBe(200);
  });

  it('answers invalid_grant for a signature from a key the emulator did not issue', async () => {
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const jwt = assertion({ iss: ORCHESTRATOR, scope: 'x', aud: 'https://oauth2.googleapis.com/token', iat: now(), exp: now() + 3600 }, foreign);
    expect(await postToken({ grant_type: JWT_BEARER, assertion: jwt })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } });
  });

  it('answers invalid_grant for a long-lived or expired assertion, and for unknown accounts', async () => {
    const key = JSON.parse(await readFile(join(credentialsDir, `${ORCHESTRATOR}.json`), 'utf8'));
    const long = assertion({ iss: ORCHESTRATOR, scope: 'x', aud: 'https://oauth2.googleapis.com/token', iat: now(), exp: now() + 7200 }, key.private_key);
    const res = await postToken({ grant_type: JWT_BEARER, assertion: long });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.error_description).toContain('Token must be a short-lived token (60 minutes)');
    const expired = assertion({ iss: ORCHESTRATOR, scope: 'x', aud: 'https://oauth2.googleapis.com/token', iat: now() - 7200, exp: now() - 3600 }, key.private_key);
    expect((await postToken({ grant_type: JWT_BEARER, assertion: expired })).body.error).toBe('invalid_grant');
    const ghost = assertion({ iss: `ghost@${PROJECT}.iam.gserviceaccount.com`, scope: 'x', aud: 'https://oauth2.googleapis.com/token', iat: now(), exp: now() + 60 }, key.private_key);
    expect((await postToken({ grant_type: JWT_BEARER, assertion: ghost })).body).toEqual({ error: 'invalid_grant', error_description: 'Invalid grant: account not found' });
    expect((await postToken({ grant_type: 'password', username: 'x' })).body.error).toBe('unsupported_grant_type');
  });

  it('serves google-auth-library JWT when its transporter is pointed at the emulator', async () => {
    const key = JSON.parse(await readFile(join(credentialsDir, `${ORCHESTRATOR}.json`), 'utf8'));
    const jwt = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    // google-auth-library ignores token_uri and posts to Google's endpoint; redirect its transporter.
    jwt.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (String(config.url).startsWith('https://oauth2.googleapis.com/token')) config.url = new URL(`${h.baseUrl}/token`);
        return config;
      },
    });
    const { token } = await jwt.getAccessToken();
    expect(token).toMatch(/^ya29\./);
  });

  it('mints tokens through the admin endpoint; expired ones get 401 ACCESS_TOKEN_EXPIRED', async () => {
    const { status, body } = await h.admin('POST', `/admin/v1/serviceAccounts/${ORCHESTRATOR}:mintAccessToken`, { lifetimeSeconds: 1 });
    expect(status).toBe(200);
    const ok = await fetch(`${h.baseUrl}/v2/${PARENT}/keys`, { headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(ok.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await fetch(`${h.baseUrl}/v2/${PARENT}/keys`, { headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(expired.status).toBe(401);
    const error = ((await expired.json()) as any).error;
    expect(error.status).toBe('UNAUTHENTICATED');
    expect(error.details[0].reason).toBe('ACCESS_TOKEN_EXPIRED');
    const unknown = await h.admin('POST', `/admin/v1/serviceAccounts/ghost@${PROJECT}.iam.gserviceaccount.com:mintAccessToken`, {});
    expect(unknown.status).toBe(404);
  });
});
