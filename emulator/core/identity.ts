// Credentials the emulator issues and checks: RSA key pairs for service accounts (RS256 JWTs
// are verified against them), opaque `ya29.` access tokens, Google-format API key strings and
// service-account key files.

import { createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { AccountKeyRecord, ServiceAccountRecord } from './state';

const generateKeyPairAsync = promisify(generateKeyPair);

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomFromAlphabet(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[bytes[i]! & 63];
  return out;
}

/** A standard key string: `AIza` + 35 characters of [A-Za-z0-9_-]. */
export function newStandardKeyString(): string {
  return `AIza${randomFromAlphabet(35)}`;
}

/** An auth key string (service-account-bound key): `AQ.` + random. */
export function newAuthKeyString(): string {
  return `AQ.Ab8RN6${randomFromAlphabet(47)}`;
}

/** An opaque OAuth2 access token in Google's visual format. */
export function newAccessToken(): string {
  return `ya29.c.${randomBytes(48).toString('base64url')}`;
}

/** An opaque STS (federated) access token; Google's carry a different prefix than account tokens. */
export function newFederatedAccessToken(): string {
  return `ya29.d.${randomBytes(48).toString('base64url')}`;
}

/** A 21-digit numeric unique id, as IAM gives service accounts. */
export function newUniqueId(): string {
  const digits = randomBytes(20);
  let out = '1';
  for (let i = 0; i < 20; i++) out += String(digits[i]! % 10);
  return out;
}

/** A new RSA-2048 key pair for an account. */
export async function newAccountKey(now: Date): Promise<AccountKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyId: randomBytes(20).toString('hex'), publicKeyPem: publicKey, privateKeyPem: privateKey, validAfterTime: now.toISOString() };
}

const publicKeyCache = new Map<string, KeyObject>();
const privateKeyCache = new Map<string, KeyObject>();

function publicKeyObject(pem: string): KeyObject {
  let key = publicKeyCache.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    publicKeyCache.set(pem, key);
  }
  return key;
}

function privateKeyObject(pem: string): KeyObject {
  let key = privateKeyCache.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    privateKeyCache.set(pem, key);
  }
  return key;
}

/** Signs an RS256 JWT. */
export function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, privateKeyPem: string): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', ...header })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKeyObject(privateKeyPem));
  return `${input}.${signature.toString('base64url')}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and decodes a compact JWT; undefined when it is not one. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return undefined;
    return {
      header: header as Record<string, unknown>,
      claims: claims as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/** Whether an RS256 JWT was signed by one of the account's keys (the `kid` one first). */
export function verifyAccountSignature(jwt: DecodedJwt, account: ServiceAccountRecord): boolean {
  if (jwt.header.alg !== 'RS256') return false;
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  const candidates = kid ? account.keys.filter((key) => key.keyId === kid) : account.keys;
  return candidates.some((key) => {
    try {
      return createVerify('RSA-SHA256').update(jwt.signingInput).verify(publicKeyObject(key.publicKeyPem), jwt.signature);
    } catch {
      return false;
    }
  });
}

/** A service-account key file as IAM hands it out, with `token_uri` at the emulator. */
export function serviceAccountKeyFile(account: ServiceAccountRecord, key: AccountKeyRecord, baseUrl: string) {
  const email = encodeURIComponent(account.email);
  return {
    type: 'service_account',
    project_id: account.projectId,
    private_key_id: key.keyId,
    private_key: key.privateKeyPem,
    client_email: account.email,
    client_id: account.uniqueId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `${baseUrl}/token`,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `${baseUrl}/robot/v1/metadata/x509/${email}`,
    universe_domain: 'googleapis.com',
  };
}
