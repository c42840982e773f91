// Acting as a pipeline's service account without a key file: the orchestrator's own credentials
// ask IAM Credentials for a short-lived token of the pipeline account (the orchestrator holds
// roles/iam.serviceAccountTokenCreator on it, granted by ensureTokenCreator). Where the token
// request goes is the one client configuration's business (GoogleClients.impersonate).

import type { GoogleGenAI } from '@google/genai';
import type { Impersonated } from 'google-auth-library';
import type { GoogleClients } from './google-clients';

/** Ten minutes: long enough for a probe or a dual-run batch; the client refreshes it after that. */
export const IMPERSONATION_LIFETIME_SECONDS = 600;

/** An auth client acting as `serviceAccountEmail`, refreshing its short-lived token itself. */
export function impersonate(clients: Pick<GoogleClients, 'impersonate'>, serviceAccountEmail: string): Promise<Impersonated> {
  return clients.impersonate(serviceAccountEmail, { lifetimeSeconds: IMPERSONATION_LIFETIME_SECONDS });
}

/** A Vertex Gemini client acting as `serviceAccountEmail` by impersonation. */
export async function vertexGenAiAs(
  clients: Pick<GoogleClients, 'impersonate' | 'genai'>,
  serviceAccountEmail: string,
  target: { project: string; location: string },
): Promise<GoogleGenAI> {
  return clients.genai({ kind: 'vertex', ...target }, { authClient: await impersonate(clients, serviceAccountEmail) });
}
