// Google ID tokens, obtained and verified with google-auth-library: the operator's side gets one
// from whatever credentials it has (a user's refresh answer, a service account's key or metadata
// server, IAM Credentials for an impersonated account); the worker's side checks one against
// Google's certificates (or the emulator's, served at the same paths) and says who it proves.

import { createHash } from 'node:crypto';
import { Compute, GoogleAuth, Impersonated, JWT, OAuth2Client, UserRefreshClient, type AuthClient } from 'google-auth-library';
import { GOOGLE_ISSUER, type IdTokenVerdict } from '../contracts/identity';
import { KeylessError } from '../contracts/errors';
import { CLOUD_PLATFORM, type EndpointConfig } from './endpoints';

/** What a worker accepts (worker/config.ts parses it from KEYLESS_APPROVAL_AUDIENCE and KEYLESS_APPROVAL_MAX_TOKEN_AGE). */
export interface IdTokenPolicy {
  audiences: readonly string[];
  /** A token issued longer ago than this is refused, though Google would still call it valid. */
  maxAgeSeconds: number;
}

/** An OAuth2 client that fetches Google's certificates (or the emulator's) and caches them as Google's cache headers say. */
export function idTokenVerifier(config: EndpointConfig): OAuth2Client {
  return new OAuth2Client({
    issuers: [GOOGLE_ISSUER],
    ...(config.mode === 'emulator'
      ? { endpoints: { oauth2FederatedSignonPemCertsUrl: `${config.baseUrl}/oauth2/v1/certs`, oauth2FederatedSignonJwkCertsUrl: `${config.baseUrl}/oauth2/v3/certs` } }
      : {}),
  });
}

function claimsOf(token: string): Record<string, unknown> | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The library's error, in words that never repeat the token (its messages quote it whole). */
function reasonOf(message: string, claims: Record<string, unknown>, policy: IdTokenPolicy): string | undefined {
  if (/^No pem found/.test(message)) return 'the token is not signed by any key Google publishes (a forged or foreign token)';
  if (/^Invalid token signature/.test(message)) return "the token's signature does not match Google's key";
  if (/^Token used too late/.test(message)) return `the token expired at ${new Date(Number(claims.exp) * 1000).toISOString()}`;
  if (/^Token used too early/.test(message)) return 'the token is issued in the future';
  if (/^Expiration time too far/.test(message)) return 'the token lives longer than Google ID tokens do';
  if (/^Invalid issuer/.test(message)) return `the token's issuer is ${String(claims.iss)}, not ${GOOGLE_ISSUER}`;
  if (/^Wrong recipient/.test(message)) return `the token's audience ${String(claims.aud)} is not one this worker accepts (KEYLESS_APPROVAL_AUDIENCE: ${policy.audiences.join(', ')})`;
  if (/^(No issue time|No expiration time|iat field|exp field)/.test(message)) return 'the token has no valid iat or exp';
  if (/^(Wrong number of segments|Can't parse)/.test(message)) return 'the token is not a JWT';
  return undefined;
}

/**
 * Checks a token as Google documents it (signature, issuer, audience, expiry), then what an
 * approval needs beyond that: an email Google verified, and a token issued within
 * `policy.maxAgeSeconds`. A token that fails is a verdict, not an error; only reaching the
 * certificates can fail (Transient, retried).
 */
export async function verifyGoogleIdToken(verifier: OAuth2Client, idToken: string, policy: IdTokenPolicy, nowMs = Date.now()): Promise<IdTokenVerdict> {
  const claims = claimsOf(idToken);
  if (!claims) return { ok: false, reason: 'the token is not a JWT' };
  const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : undefined;
  const refuse = (reason: string): IdTokenVerdict => ({ ok: false, reason, ...(email ? { email } : {}) });
  try {
    await verifier.getFederatedSignonCertsAsync();
  } catch (err) {
    throw new KeylessError({ type: 'Transient', message: `cannot read Google's ID token certificates: ${(err as Error).message}`, cause: err });
  }
  try {
    await verifier.verifyIdToken({ idToken, audience: [...policy.audiences] });
  } catch (err) {
    const reason = reasonOf((err as Error).message, claims, policy);
    if (!reason) throw new KeylessError({ type: 'Transient', message: `verifying an ID token failed: ${(err as Error).message.slice(0, 200)}` });
    return refuse(reason);
  }
  if (!email) return refuse('the token carries no email (a service account must ask for it: includeEmail, or format=full on the metadata server)');
  if (claims.email_verified !== true) return refuse(`Google has not verified the email ${email} (email_verified is not true)`);
  const issuedAt = Number(claims.iat);
  const age = nowMs / 1000 - issuedAt;
  if (age > policy.maxAgeSeconds) return refuse(`the token was issued ${Math.round(age / 60)} minutes ago; approvals take tokens at most ${Math.round(policy.maxAgeSeconds / 60)} minutes old (get a fresh one)`);
  return {
    ok: true,
    caller: { email, tokenHash: tokenHash(idToken), issuedAt, expiresAt: Number(claims.exp), audience: String(claims.aud) },
  };
}

/** SHA-256 of a token's text, hex: what a workflow keeps instead of the token. */
export function tokenHash(idToken: string): string {
  return createHash('sha256').update(idToken).digest('hex');
}

/** How an ID token was obtained, for the operator's output. */
export type IdTokenSourceKind = 'user' | 'service-account-key' | 'metadata-server' | 'impersonation';

/**
 * An ID token from an auth client, each kind the way google-auth-library offers it. A user gets the
 * `id_token` of a refresh answer (its audience is the OAuth client id whatever is asked); every
 * service-account path is asked for `audience` and for the email.
 */
export async function idTokenFrom(client: AuthClient, audience: string): Promise<{ idToken: string; via: IdTokenSourceKind }> {
  if (client instanceof UserRefreshClient) {
    // A fresh process has no cached access token, so this is one refresh, whose answer carries the ID token.
    client.credentials = { refresh_token: client.credentials.refresh_token ?? null };
    await client.getAccessToken();
    const idToken = client.credentials.id_token;
    if (!idToken) throw new KeylessError({ type: 'PermissionDenied', message: 'the user credentials answered no ID token: log in again with `gcloud auth application-default login` (its scopes include openid)' });
    return { idToken, via: 'user' };
  }
  if (client instanceof Impersonated) return { idToken: await client.fetchIdToken(audience, { includeEmail: true }), via: 'impersonation' };
  if (client instanceof Compute) return { idToken: await client.fetchIdToken(audience), via: 'metadata-server' };
  if (client instanceof JWT) return { idToken: await client.fetchIdToken(audience), via: 'service-account-key' };
  throw new KeylessError({
    type: 'PermissionDenied',
    message: `these credentials (${client.constructor.name}) cannot give a Google ID token: use a user login (gcloud auth application-default login), a service account, or impersonate one`,
  });
}

/** Application Default Credentials (Google only: in emulator mode keyless never reads the user's files). */
export async function adcClient(): Promise<AuthClient> {
  return new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getClient();
}

/** A user-credentials client from an `authorized_user` document, its token endpoint at the emulator in emulator mode. */
export function userCredentialsClient(config: EndpointConfig, credentials: { client_id: string; client_secret: string; refresh_token: string }): UserRefreshClient {
  return new UserRefreshClient({
    clientId: credentials.client_id,
    clientSecret: credentials.client_secret,
    refreshToken: credentials.refresh_token,
    ...(config.mode === 'emulator' ? { endpoints: { oauth2TokenUrl: `${config.baseUrl}/token` } } : {}),
  });
}

/** The metadata server's credentials (GCE_METADATA_HOST decides which one, also the emulator's). */
export function metadataClient(): Compute {
  return new Compute();
}

/** `source` acting as `targetPrincipal` through IAM Credentials, for generateIdToken. */
export function impersonating(config: EndpointConfig, source: AuthClient, targetPrincipal: string): Impersonated {
  return new Impersonated({ sourceClient: source, targetPrincipal, targetScopes: [CLOUD_PLATFORM], delegates: [], ...(config.mode === 'emulator' ? { endpoint: config.baseUrl } : {}) });
}
