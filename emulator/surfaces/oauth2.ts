// The OAuth2 token endpoint a service-account key file's `token_uri` names: the JWT-bearer
// grant, with the assertion's RS256 signature checked against the keys this emulator issued.
// Errors use OAuth's `{error, error_description}` shape with HTTP 400, as Google's endpoint does.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { decodeJwt, signJwt, verifyAccountSignature } from '../core/identity';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GOOGLE_TOKEN_AUDIENCES = ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token', 'https://accounts.google.com/o/oauth2/token'];
const SHORT_LIVED =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
const SKEW_S = 300;

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
      const key = await core.ensureAccountKey(account);
      const idToken = signJwt(
        { typ: 'JWT', kid: key.keyId },
        { iss: 'https://accounts.google.com', aud: targetAudience, azp: account.email, sub: account.uniqueId, email: account.email, email_verified: true, iat: Math.floor(now), exp: Math.floor(now) + 3600 },
        key.privateKeyPem,
      );
      return { body: { id_token: idToken } };
    }
    const scope = typeof jwt.claims.scope === 'string' ? jwt.claims.scope.split(/\s+/).filter(Boolean) : [];
    if (scope.length === 0) return oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const minted = core.mintAccessToken('serviceAccount', account.email, 3600, scope);
    return { body: { access_token: minted.token, expires_in: 3599, token_type: 'Bearer' } };
  };

  return [
    { method: 'POST', pattern: /^\/token$/, surface: 'oauth2', handler: token, mutates: false },
    { method: 'POST', pattern: /^\/oauth2\/v4\/token$/, surface: 'oauth2', handler: token, mutates: false },
  ];
}
