// Google's own OIDC ID tokens, as the emulator issues them: signed by a key of "Google"'s (not the
// account's), published the way Google publishes its keys, at /oauth2/v3/certs (JWKS) and
// /oauth2/v1/certs (X.509 certificates by kid), so google-auth-library's verifyIdToken checks them
// as it checks Google's. The metadata server, IAM Credentials generateIdToken and the OAuth2 token
// endpoint (service-account assertions with target_audience, user refresh tokens) all sign here.

import { createPrivateKey, createPublicKey, createSign, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { signJwt } from './identity';
import { publicJwk, type Jwk } from './oidc';

const generateKeyPairAsync = promisify(generateKeyPair);

/** The issuer Google's ID tokens name. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';
/** Google's ID tokens live one hour. */
export const ID_TOKEN_LIFETIME_S = 3600;

/** One of the keys "Google" signs ID tokens with, and its self-signed certificate. */
export interface GoogleSigningKey {
  kid: string;
  publicKeyPem: string;
  privateKeyPem: string;
  certificatePem: string;
}

export async function newGoogleSigningKey(now: Date): Promise<GoogleSigningKey> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const kid = randomBytes(20).toString('hex');
  return { kid, publicKeyPem: publicKey, privateKeyPem: privateKey, certificatePem: selfSignedCertificate(publicKey, privateKey, kid, now) };
}

/** Signs an ID token with the claims Google's carry. */
export function signGoogleIdToken(key: GoogleSigningKey, claims: Record<string, unknown>): string {
  return signJwt({ typ: 'JWT', kid: key.kid }, { iss: GOOGLE_ISSUER, ...claims }, key.privateKeyPem);
}

/** The claims of an ID token for a service account (azp and sub are its unique id, as Google's). */
export function accountIdTokenClaims(account: { email: string; uniqueId: string }, audience: string, includeEmail: boolean, nowS: number): Record<string, unknown> {
  return {
    aud: audience,
    azp: account.uniqueId,
    sub: account.uniqueId,
    ...(includeEmail ? { email: account.email, email_verified: true } : {}),
    iat: nowS,
    exp: nowS + ID_TOKEN_LIFETIME_S,
  };
}

/** The JWKS at /oauth2/v3/certs. */
export function googleJwks(keys: readonly GoogleSigningKey[]): { keys: Jwk[] } {
  return { keys: keys.map((k) => publicJwk(k.publicKeyPem, k.kid)) };
}

/** The certificates by kid at /oauth2/v1/certs. */
export function googlePemCerts(keys: readonly GoogleSigningKey[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k.kid, k.certificatePem]));
}

// --- a minimal X.509 v3 encoder: Google's v1 endpoint serves certificates, not bare keys ---------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const sequence = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));

function integer(bytes: Buffer): Buffer {
  const trimmed = bytes[0] === 0 && bytes.length > 1 ? bytes.subarray(1) : bytes;
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function objectId(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [];
    for (let n = arc; ; n = Math.floor(n / 128)) {
      chunk.unshift((n % 128) | (chunk.length ? 0x80 : 0));
      if (n < 128) break;
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  return tlv(0x17, Buffer.from(`${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, 'ascii'));
}

function selfSignedCertificate(publicKeyPem: string, privateKeyPem: string, kid: string, now: Date): string {
  const sha256WithRsa = sequence(objectId('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = sequence(set(sequence(objectId('2.5.4.3'), tlv(0x0c, Buffer.from(`keyless emulator ${kid.slice(0, 8)} (accounts.google.com)`)))));
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(randomBytes(16)),
    sha256WithRsa,
    name,
    sequence(utcTime(new Date(now.getTime() - 3_600_000)), utcTime(new Date(now.getTime() + 14 * 86_400_000))),
    name,
    spki,
  );
  const signature = createSign('RSA-SHA256').update(tbs).sign(createPrivateKey(privateKeyPem));
  const der = sequence(tbs, sha256WithRsa, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
