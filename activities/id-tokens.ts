// The verifyIdToken activity: who a Google ID token in an operator's message proves, by the
// worker's policy (accepted audiences, how old a token may be). Update handlers call it, so the
// check that needs the network stays out of workflow code and its answer is recorded in history.

import type { KeylessActivities } from '../contracts/activities';
import { DEFAULT_APPROVAL_AUDIENCES, DEFAULT_MAX_TOKEN_AGE_S } from '../contracts/identity';
import type { GoogleClients } from '../google/clients';
import { idTokenVerifier, verifyGoogleIdToken, type IdTokenPolicy } from '../google/id-tokens';

/** The policy when the worker was given none: keyless's own audience and gcloud's, ten minutes. */
export const DEFAULT_ID_TOKEN_POLICY: IdTokenPolicy = { audiences: DEFAULT_APPROVAL_AUDIENCES, maxAgeSeconds: DEFAULT_MAX_TOKEN_AGE_S };

export function createIdTokenActivities(clients: GoogleClients, policy: IdTokenPolicy = DEFAULT_ID_TOKEN_POLICY): Pick<KeylessActivities, 'verifyIdToken'> {
  // One verifier per worker: it caches Google's certificates as their cache headers allow.
  const verifier = idTokenVerifier(clients.config);
  return {
    verifyIdToken: ({ idToken }) => verifyGoogleIdToken(verifier, idToken, policy),
  };
}
