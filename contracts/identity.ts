// Who sent an operator's message, as a Google ID token proves it: the issuer and audiences keyless
// accepts, the verifyIdToken activity's input and answer, and the rule for how old a token may be.
// Temporal passes no caller identity to workflow code (and the UI's update dialog sends none), so
// a verified approval carries its proof in its payload.

import { z } from 'zod';

/** The only issuer keyless accepts: Google's own ID tokens. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/**
 * The OAuth client `gcloud auth application-default login` uses: a user's ADC refresh answers an
 * ID token for this audience, and a user cannot ask for another.
 */
export const GCLOUD_ADC_CLIENT_ID = '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com';
/** gcloud's own OAuth client: the audience of `gcloud auth print-identity-token` for a user. */
export const GCLOUD_CLI_CLIENT_ID = '32555940559.apps.googleusercontent.com';
/** The audience keyless asks for when the caller may choose one (a service account, the metadata server). */
export const KEYLESS_APPROVAL_AUDIENCE = 'keyless-approvals';

/**
 * The audiences a worker accepts unless KEYLESS_APPROVAL_AUDIENCE says otherwise: keyless's own
 * (service accounts choose it) and gcloud's two client ids (users cannot choose).
 */
export const DEFAULT_APPROVAL_AUDIENCES = [KEYLESS_APPROVAL_AUDIENCE, GCLOUD_ADC_CLIENT_ID, GCLOUD_CLI_CLIENT_ID] as const;

/** How long after it was issued a token may still approve (KEYLESS_APPROVAL_MAX_TOKEN_AGE). */
export const DEFAULT_MAX_TOKEN_AGE_S = 600;

/** A Google ID token as a message carries it: a compact JWS, far below Temporal's payload limit. */
export const IdTokenSchema = z
  .string()
  .max(8_192, 'idToken is limited to 8192 characters')
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'idToken must be a Google ID token (a JWT: three base64url parts separated by dots); `keyless approve --print-payload` prints one');

/** What a verified token proved. */
export interface VerifiedCaller {
  email: string;
  /** SHA-256 of the token's text (hex): the workflow keeps it, so the same token cannot act twice. */
  tokenHash: string;
  /** Seconds since the epoch, from the token. */
  issuedAt: number;
  expiresAt: number;
  audience: string;
}

/** The verifyIdToken activity's answer: who, or why not (a refusal the workflow records, never retried). */
export type IdTokenVerdict = { ok: true; caller: VerifiedCaller } | { ok: false; reason: string; email?: string };
