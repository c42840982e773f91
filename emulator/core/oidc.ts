// OpenID Connect plumbing shared by the issuers the emulator simulates and by its STS: JWKs of
// RSA and EC P-256 keys, JWT signature checks against a JWKS, and how an issuer URL such as
// `https://token.actions.githubusercontent.com` maps onto the emulator's own origin.
//
// Simulated issuers keep their real `https://` URLs in tokens, discovery documents and provider
// configurations; only the transport is redirected: `https://{host}{path}` is served at
// `{baseUrl}/oidc-issuers/{host}{path}`. So a provider keyless writes for GitHub is byte for
// byte the one it writes against Google, and STS still does discovery over HTTP.

import { createPublicKey, createVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { DecodedJwt } from './identity';

/** Path prefix under which the emulator serves the issuers it simulates. */
export const ISSUER_PATH_PREFIX = '/oidc-issuers/';

/** The URL on the emulator that stands for an `https://` URL of a simulated issuer; undefined for other schemes. */
export function emulatorUrlOf(baseUrl: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || parsed.username || parsed.password) return undefined;
  return `${baseUrl}${ISSUER_PATH_PREFIX}${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}${parsed.search}`;
}

/** The `https://` URL an emulator path under ISSUER_PATH_PREFIX stands for. */
export function issuerUrlOfPath(rawPath: string): string {
  return `https://${rawPath.slice(ISSUER_PATH_PREFIX.length)}`;
}

/** A public JWK as issuers publish them (RFC 7517). */
export const JwkSchema = z
  .object({
    kty: z.string(),
    kid: z.string().optional(),
    alg: z.string().optional(),
    use: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
  })
  .loose();
export type Jwk = z.output<typeof JwkSchema>;
export const JwksSchema = z.object({ keys: z.array(JwkSchema) });

/** The public JWK of a PEM key, as a JWKS entry. */
export function publicJwk(publicKeyPem: string, kid: string): Jwk {
  const jwk = createPublicKey(publicKeyPem).export({ format: 'jwk' }) as Record<string, string>;
  return { ...jwk, kty: jwk.kty!, kid, alg: jwk.kty === 'EC' ? 'ES256' : 'RS256', use: 'sig' };
}

/**
 * Why a JWKS cannot back a provider, in the words Google uses (measured: RSA and EC P-256 only),
 * or undefined when it can.
 */
export function jwksProblem(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'Invalid JWKs: the value is not valid JSON.';
  }
  const result = JwksSchema.safeParse(parsed);
  if (!result.success || result.data.keys.length === 0) return 'Invalid JWKs: expected {"keys": [ … ]} with at least one key.';
  for (const key of result.data.keys) {
    if (key.kty !== 'RSA' && !(key.kty === 'EC' && key.crv === 'P-256')) return 'Invalid JWKs. Only RSA, EC key types are supported.';
    if (!keyObjectOf(key)) return 'Input jwks contains corrupted key material.';
  }
  return undefined;
}

function keyObjectOf(jwk: Jwk): KeyObject | undefined {
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** How a JWT fares against a JWKS: signed by one of its keys, no key for it, or a bad signature. */
export type JwksVerdict = 'valid' | 'no-key' | 'bad-signature';

export function verifyWithJwks(jwt: DecodedJwt, keys: readonly Jwk[]): JwksVerdict {
  const alg = jwt.header.alg;
  const kty = alg === 'RS256' ? 'RSA' : alg === 'ES256' ? 'EC' : undefined;
  if (!kty) return 'no-key';
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  const candidates = keys.filter((key) => key.kty === kty && (kid === undefined || key.kid === undefined || key.kid === kid));
  if (candidates.length === 0) return 'no-key';
  for (const key of candidates) {
    const object = keyObjectOf(key);
    if (!object) continue;
    try {
      const verifier = createVerify('SHA256').update(jwt.signingInput);
      const ok = kty === 'EC' ? verifier.verify({ key: object, dsaEncoding: 'ieee-p1363' }, jwt.signature) : verifier.verify(object, jwt.signature);
      if (ok) return 'valid';
    } catch {
      // A malformed signature is a bad signature.
    }
  }
  return 'bad-signature';
}
