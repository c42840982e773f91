// Google ID tokens the way Google issues them, from each place it does, checked by
// google-auth-library's own verifyIdToken against the certificates the emulator serves at Google's
// paths (JWKS at /oauth2/v3/certs, X.509 at /oauth2/v1/certs); and keyless's verdict on the tokens
// an approval must refuse: another audience, expired, too old, unverified email, another key.

import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GCLOUD_ADC_CLIENT_ID, KEYLESS_APPROVAL_AUDIENCE } from '../../contracts/identity';
import { DEMO_ORCHESTRATOR, startEmulator, type RunningEmulator } from '../../emulator';
import { signJwt } from '../../emulator/core/identity';
import { newGoogleSigningKey } from '../../emulator/core/google-id-tokens';
import { createGoogleClients } from '../../google/clients';
import { idTokenFrom, idTokenVerifier, impersonating, metadataClient, userCredentialsClient, verifyGoogleIdToken } from '../../google/id-tokens';
import { DEFAULT_ID_TOKEN_POLICY } from '../../activities/id-tokens';

let emulator: RunningEmulator;
const config = () => ({ mode: 'emulator' as const, baseUrl: emulator.baseUrl });
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

beforeAll(async () => {
  emulator = await startEmulator({ fixture: 'demo' });
});

afterAll(async () => {
  await emulator?.stop();
});

async function verdict(token: string) {
  return verifyGoogleIdToken(idTokenVerifier(config()), token, DEFAULT_ID_TOKEN_POLICY);
}

describe('the emulator as Google\'s ID token issuer', () => {
  it('serves its certificates as JWKS and as X.509 certificates by kid, with cache headers', async () => {
    const jwks = await fetch(`${emulator.baseUrl}/oauth2/v3/certs`);
    expect(jwks.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const { keys } = (await jwks.json()) as { keys: { kid: string; kty: string; alg: string; use: string; n: string; e: string }[] };
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    const pem = (await (await fetch(`${emulator.baseUrl}/oauth2/v1/certs`)).json()) as Record<string, string>;
    const certificate = new X509Certificate(pem[keys[0]!.kid]!);
    expect(certificate.subject).toMatch(/accounts\.google\.com/);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
  });

  it('answers the metadata server\'s identity (format=full), generateIdToken (includeEmail) and a user\'s refresh with tokens verifyIdToken accepts', async () => {
    const host = await emulator.attach(DEMO_ORCHESTRATOR);
    process.env.GCE_METADATA_HOST = host;
    try {
      const fromMetadata = await idTokenFrom(metadataClient(), KEYLESS_APPROVAL_AUDIENCE);
      expect(fromMetadata.via).toBe('metadata-server');
      expect(claims(fromMetadata.idToken)).toMatchObject({ iss: 'https://accounts.google.com', aud: KEYLESS_APPROVAL_AUDIENCE, email: DEMO_ORCHESTRATOR, email_verified: true });
      expect(await verdict(fromMetadata.idToken)).toMatchObject({ ok: true, caller: { email: DEMO_ORCHESTRATOR, audience: KEYLESS_APPROVAL_AUDIENCE } });

      // The orchestrator impersonates an account it may mint tokens for: IAM Credentials generateIdToken.
      const clients = createGoogleClients(config(), { authClient: metadataClient() });
      const target = 'ci-deployer@demo-project.iam.gserviceaccount.com';
      await clients.iam.projects.serviceAccounts.setIamPolicy({
        resource: `projects/demo-project/serviceAccounts/${target}`,
        requestBody: { policy: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${DEMO_ORCHESTRATOR}`] }] } },
      });
      const impersonated = await idTokenFrom(impersonating(config(), metadataClient(), target), KEYLESS_APPROVAL_AUDIENCE);
      expect(impersonated.via).toBe('impersonation');
      expect(await verdict(impersonated.idToken)).toMatchObject({ ok: true, caller: { email: target } });
    } finally {
      delete process.env.GCE_METADATA_HOST;
    }

    const user = await idTokenFrom(userCredentialsClient(config(), emulator.issueUserCredentials('operator@example.com')), KEYLESS_APPROVAL_AUDIENCE);
    expect(user.via).toBe('user');
    // A user cannot choose the audience: it is the OAuth client's id, gcloud's for ADC.
    expect(claims(user.idToken)).toMatchObject({ aud: GCLOUD_ADC_CLIENT_ID, email: 'operator@example.com', email_verified: true });
    expect(await verdict(user.idToken)).toMatchObject({ ok: true, caller: { email: 'operator@example.com', audience: GCLOUD_ADC_CLIENT_ID } });
  });
});

describe('given tokens that must not prove an approver', () => {
  it('refuses another audience, an expired or too old token, an unverified email and one signed by another key, naming why and never echoing the token', async () => {
    const email = 'alice@example.com';
    const cases: Array<[string, string, RegExp]> = [
      ['another audience', await emulator.mintGoogleIdToken({ email, audience: 'https://billing.example.com' }), /audience https:\/\/billing\.example\.com is not one this worker accepts/],
      ['expired', await emulator.mintGoogleIdToken({ email, audience: KEYLESS_APPROVAL_AUDIENCE, issuedSecondsAgo: 7200 }), /the token expired at/],
      ['issued 20 minutes ago', await emulator.mintGoogleIdToken({ email, audience: KEYLESS_APPROVAL_AUDIENCE, issuedSecondsAgo: 1200 }), /issued 20 minutes ago; approvals take tokens at most 10 minutes old/],
      ['an unverified email', await emulator.mintGoogleIdToken({ email, audience: KEYLESS_APPROVAL_AUDIENCE, emailVerified: false }), /has not verified the email alice@example.com/],
    ];
    const { keys } = (await (await fetch(`${emulator.baseUrl}/oauth2/v3/certs`)).json()) as { keys: { kid: string }[] };
    const other = await newGoogleSigningKey(new Date());
    const now = Math.floor(Date.now() / 1000);
    const forgedClaims = { iss: 'https://accounts.google.com', aud: KEYLESS_APPROVAL_AUDIENCE, sub: '1', email, email_verified: true, iat: now, exp: now + 3600 };
    cases.push(['another key under Google\'s kid', signJwt({ typ: 'JWT', kid: keys[0]!.kid }, forgedClaims, other.privateKeyPem), /signature does not match Google's key/]);
    cases.push(['another key under its own kid', signJwt({ typ: 'JWT', kid: other.kid }, forgedClaims, other.privateKeyPem), /not signed by any key Google publishes/]);
    cases.push(['not a JWT', 'not-a-token', /not a JWT/]);
    for (const [label, token, reason] of cases) {
      const result = await verdict(token);
      expect(result.ok, label).toBe(false);
      if (result.ok) continue;
      expect(result.reason, label).toMatch(reason);
      expect(result.reason, label).not.toContain(token.split('.')[1] ?? token);
    }
  });
});
