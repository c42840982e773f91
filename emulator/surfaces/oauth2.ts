// The OAuth2 token endpoint a service-account key file's `token_uri` names: the JWT-bearer
// grant, with the assertion's RS256 signature checked against the keys this emulator issued (a
// `target_audience` claim asks for an ID token instead of an access token), and the refresh-token
// grant of `authorized_user` credentials, whose answer carries the user's `id_token` (audience: the
// OAuth client id; a user cannot choose another). Google's ID-token certificates are served here
// too. Errors use OAuth's `{error, error_description}` shape with HTTP 400, as Google's endpoint does.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { ID_TOKEN_LIFETIME_S, accountIdTokenClaims, googleJwks, googlePemCerts } from '../core/google-id-tokens';
import { decodeJwt, verifyAccountSignature } from '../core/identity';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GOOGLE_TOKEN_AUDIENCES = ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token', 'https://accounts.google.com/o/oauth2/token'];
const SHORT_LIVED =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
const SKEW_S = 300;
const REFRESH_TOKEN = 'refresh_token';
/** Google lets clients cache its certificates for hours; an emulator restart keeps the same keys. */
const CERTS_CACHE = 'public, max-age=21600, must-revalidate, no-transform';

function oauthError(error: string, description: string, status = 400): EmuResponse {
  return { status, body: { error, error_description: description } };
}

export function oauth2Routes(core: EmulatorCore): RouteDef[] {
  const token = async (req: EmuRequest): Promise<EmuResponse> => {
    const form = new URLSearchParams(req.rawBody.toString('utf8'));
    // Some callers post JSON; accept it like Google does.
    const json = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const field = (name: string) => form.get(name) ?? (typeof json[name] === 'string' ? (json[name] as string) : null);
    const grantType = field('grant_type');
    if (grantType === REFRESH_TOKEN) return refresh(field);
    if (grantType !== JWT_BEARER) {
      return oauthError('unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    }
    const assertion = field('assertion');
    const jwt = assertion ? decodeJwt(assertion) : undefined;
    if (!jwt) return oauthError('invalid_request', 'Invalid JWT: the assertion is not a compact JWS.');
    const iss = jwt.claims.iss;
    const account = typeof iss === 'string' ? core.liveServiceAccount(iss) : undefined;
    if (!account || account.disabled) return oauthError('invalid_grant', 'Invalid grant: account not found');
    if (!verifyAccountSignature(jwt, account)) return oauthError('invalid_grant', 'Invalid JWT Signature.');
    const aud = jwt.claims.aud;
    if (typeof aud !== 'string' || !(GOOGLE_TOKEN_AUDIENCES.includes(aud) || aud === `${core.baseUrl}/token`)) {
      return oauthError('invalid_grant', 'Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token');
    }
    const iat = Number(jwt.claims.iat);
    const exp = Number(jwt.claims.exp);
    const now = Date.now() / 1000;
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp <= now || iat > now + SKEW_S || exp - iat > 3600 || exp <= iat) {
      return oauthError('invalid_grant', SHORT_LIVED);
    }
    const targetAudience = jwt.claims.target_audience;
    if (typeof targetAudience === 'string' && targetAudience !== '') {
      return { body: { id_token: await core.signGoogleIdToken(accountIdTokenClaims(account, targetAudience, true, Math.floor(now))) } };
    }
    const scope = typeof jwt.claims.scope === 'string' ? jwt.claims.scope.split(/\s+/).filter(Boolean) : [];
    if (scope.length === 0) return oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const minted = core.mintAccessToken('serviceAccount', account.email, 3600, scope);
    return { body: { access_token: minted.token, expires_in: 3599, token_type: 'Bearer' } };
  };

  const refresh = async (field: (name: string) => string | null): Promise<EmuResponse> => {
    const record = core.state.userRefreshTokens?.[field('refresh_token') ?? ''];
    if (!record) return oauthError('invalid_grant', 'Token has been expired or revoked.');
    if (field('client_id') !== record.clientId || field('client_secret') !== record.clientSecret) return oauthError('invalid_client', 'The OAuth client was not found.', 401);
    const minted = core.mintAccessToken('user', record.email, 3600);
    const nowS = Math.floor(Date.now() / 1000);
    const idToken = await core.signGoogleIdToken({
      aud: record.clientId,
      azp: record.clientId,
      sub: userSubject(record.email),
      email: record.email,
      email_verified: true,
      at_hash: minted.token.slice(-22),
      iat: nowS,
      exp: nowS + ID_TOKEN_LIFETIME_S,
    });
    return { body: { access_token: minted.token, expires_in: 3599, scope: 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform', token_type: 'Bearer', id_token: idToken } };
  };

  const certs = (format: 'jwk' | 'pem') => async (): Promise<EmuResponse> => {
    const keys = [await core.googleSigningKey(), ...(core.state.googleSigningKeys ?? []).slice(1)];
    return { body: format === 'jwk' ? googleJwks(keys) : googlePemCerts(keys), headers: { 'cache-control': CERTS_CACHE } };
  };

  return [
    { method: 'GET', pattern: /^\/oauth2\/v3\/certs$/, surface: 'oauth2', handler: certs('jwk'), mutates: false },
    { method: 'GET', pattern: /^\/oauth2\/v1\/certs$/, surface: 'oauth2', handler: certs('pem'), mutates: false },
    { method: 'POST', pattern: /^\/token$/, surface: 'oauth2', handler: token, mutates: false },
    { method: 'POST', pattern: /^\/oauth2\/v4\/token$/, surface: 'oauth2', handler: token, mutates: false },
  ];
}

/** A stable 21-digit subject for a user email, as Google gives each account one. */
function userSubject(email: string): string {
  let hash = 0n;
  for (const ch of email.toLowerCase()) hash = (hash * 131n + BigInt(ch.codePointAt(0)!)) % 10n ** 20n;
  return `1${hash.toString().padStart(20, '0')}`;
}
