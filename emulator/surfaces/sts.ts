// Security Token Service v1 `POST /v1/token` (sts.googleapis.com): RFC 8693 token exchange of
// an OIDC token for a federated access token. The subject token is verified against its issuer's
// JWKS, found by OIDC discovery over HTTP (simulated issuers live on the emulator's own origin,
// see core/oidc) or given as the provider's jwksJson; then `iss`, `aud`, the times, the attribute
// mapping and the attribute condition. Refusals use OAuth's `{error, error_description}` with the
// texts Google sends (measured against sts.googleapis.com where known).

import { z } from 'zod';
import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { decodeJwt } from '../core/identity';
import { emulatorUrlOf, JwksSchema, verifyWithJwks, type Jwk } from '../core/oidc';
import { defaultAllowedAudiences, federate, federatedMembers, FederationRefusal, parseStsAudience, poolNameOf, providerNameOf } from '../core/workload-identity';
import type { WorkloadIdentityPoolProviderRecord } from '../core/state';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'];
/** Measured on sts.googleapis.com: about a minute of skew either way on iat and exp. */
const CLOCK_SKEW_S = 60;
/** The federated token lives as long as the subject token, at most an hour. */
const MAX_LIFETIME_S = 3600;
const DISCOVERY_TIMEOUT_MS = 5_000;

const INVALID_AUDIENCE =
  'Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.';
const INVALID_TARGET =
  'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.';
const ISSUER_UNREACHABLE = "Error connecting to the given credential's issuer.";
const BAD_SIGNATURE = 'Unable to verify the ID Token signature.';

/** The exchange request; google-auth posts it form-encoded (snake_case), discovery clients as JSON (camelCase). */
const ExchangeSchema = z.object({
  grant_type: z.string().optional(),
  audience: z.string().optional(),
  scope: z.string().optional(),
  requested_token_type: z.string().optional(),
  subject_token: z.string().optional(),
  subject_token_type: z.string().optional(),
  options: z.string().optional(),
});

const CAMEL_FIELDS: Record<string, keyof z.infer<typeof ExchangeSchema>> = {
  grantType: 'grant_type',
  requestedTokenType: 'requested_token_type',
  subjectToken: 'subject_token',
  subjectTokenType: 'subject_token_type',
};

function oauthError(error: string, description: string, status = 400): EmuResponse {
  return { status, body: { error, error_description: description } };
}

function readExchange(req: EmuRequest): z.infer<typeof ExchangeSchema> | undefined {
  const raw: Record<string, unknown> = {};
  if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) raw[CAMEL_FIELDS[k] ?? k] = v;
  } else {
    for (const [k, v] of new URLSearchParams(req.rawBody.toString('utf8'))) raw[k] = v;
  }
  const parsed = ExchangeSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

export function stsRoutes(core: EmulatorCore): RouteDef[] {
  /** The issuer's keys: the provider's own JWKS, else discovery → jwks_uri, fetched over HTTP. */
  async function issuerKeys(provider: WorkloadIdentityPoolProviderRecord): Promise<Jwk[] | undefined> {
    if (provider.oidc.jwksJson) {
      const parsed = JwksSchema.safeParse(JSON.parse(provider.oidc.jwksJson));
      return parsed.success ? parsed.data.keys : undefined;
    }
    const fetchJson = async (url: string): Promise<unknown> => {
      const target = emulatorUrlOf(core.baseUrl, url);
      if (!target) return undefined;
      const res = await fetch(target, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
      return res.ok ? res.json() : undefined;
    };
    try {
      const discovery = (await fetchJson(`${provider.oidc.issuerUri.replace(/\/$/, '')}/.well-known/openid-configuration`)) as { jwks_uri?: unknown } | undefined;
      if (typeof discovery?.jwks_uri !== 'string') return undefined;
      const jwks = JwksSchema.safeParse(await fetchJson(discovery.jwks_uri));
      return jwks.success ? jwks.data.keys : undefined;
    } catch {
      return undefined;
    }
  }

  const token = async (req: EmuRequest): Promise<EmuResponse> => {
    const input = readExchange(req);
    if (!input) return oauthError('invalid_request', 'Invalid request: every parameter must be a string.');
    if (input.grant_type !== TOKEN_EXCHANGE) return oauthError('unsupported_grant_type', `Invalid value for "grant_type": ${input.grant_type ?? ''}`);
    const target = input.audience ? parseStsAudience(input.audience) : undefined;
    if (!target) return oauthError('invalid_request', INVALID_AUDIENCE);
    if (input.requested_token_type !== ACCESS_TOKEN_TYPE) return oauthError('invalid_request', `Invalid value for "requested_token_type": ${input.requested_token_type ?? ''}`);
    if (!input.subject_token_type || !SUBJECT_TOKEN_TYPES.includes(input.subject_token_type)) {
      return oauthError('invalid_request', `Invalid value for "subject_token_type": ${input.subject_token_type ?? ''}`);
    }
    const scopes = (input.scope ?? '').split(/\s+/).filter(Boolean);
    if (scopes.length === 0) return oauthError('invalid_scope', 'Scope(s) must be provided.');
    if (!input.subject_token) return oauthError('invalid_request', 'Missing required parameter "subject_token".');

    // Pools are addressed by project number only; an id matches nothing, as on Google.
    const poolName = poolNameOf(target.projectNumber, target.poolId);
    const pool = core.state.workloadIdentityPools[poolName];
    const provider = core.state.workloadIdentityPoolProviders[providerNameOf(poolName, target.providerId)];
    if (!pool || pool.deleteTime || pool.disabled || !provider || provider.deleteTime || provider.disabled) return oauthError('invalid_target', INVALID_TARGET);

    const jwt = decodeJwt(input.subject_token);
    if (!jwt) return oauthError('invalid_grant', 'Unable to parse the ID Token.');
    const { claims } = jwt;
    const iss = typeof claims.iss === 'string' ? claims.iss : 'null';
    if (iss !== provider.oidc.issuerUri) return oauthError('invalid_grant', `The issuer in ID Token ${iss} does not match the expected one in config: ${provider.oidc.issuerUri}.`);

    const keys = await issuerKeys(provider);
    if (!keys) return oauthError('invalid_grant', ISSUER_UNREACHABLE);
    const verdict = verifyWithJwks(jwt, keys);
    if (verdict === 'no-key') return oauthError('invalid_grant', ISSUER_UNREACHABLE);
    if (verdict === 'bad-signature') return oauthError('invalid_grant', BAD_SIGNATURE);

    const audiences = audiencesOf(claims.aud);
    const allowed = provider.oidc.allowedAudiences.length > 0 ? provider.oidc.allowedAudiences : defaultAllowedAudiences(provider.name);
    if (!audiences.some((a) => allowed.includes(a))) return oauthError('invalid_grant', `The audience in ID Token [${audiences.join(', ')}] does not match the expected audience.`);

    const nowS = Date.now() / 1000;
    const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
    const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : undefined;
    if (iat === undefined || exp === undefined || exp < nowS - CLOCK_SKEW_S || iat > nowS + CLOCK_SKEW_S || (nbf !== undefined && nbf > nowS + CLOCK_SKEW_S)) {
      return oauthError('invalid_grant', `ID Token issued at ${iat ?? 'null'} is stale to sign-in.`);
    }

    let mapped;
    try {
      mapped = federate(provider, claims);
    } catch (err) {
      if (err instanceof FederationRefusal) return oauthError(err.error, err.description);
      throw err;
    }
    const lifetime = Math.max(1, Math.min(MAX_LIFETIME_S, Math.floor(exp - nowS)));
    const minted = core.mintFederatedToken({ poolName, providerName: provider.name, subject: mapped.subject, members: federatedMembers(poolName, mapped) }, lifetime, scopes);
    return { body: { access_token: minted.token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: lifetime } };
  };

  return [{ method: 'POST', pattern: /^\/v1\/token$/, surface: 'sts', handler: token, mutates: false }];
}
