// Acting as a service account without a key file: a source credential asks IAM Credentials for
// short-lived tokens of the account (it needs roles/iam.serviceAccountTokenCreator on it). Where
// the token request goes is the endpoint configuration's business.

import type { GoogleGenAI } from '@google/genai';
import { GoogleAuth, Impersonated, type AuthClient, type OAuth2Client } from 'google-auth-library';
import { CLOUD_PLATFORM, type EndpointConfig } from './endpoints';

/** Ten minutes: long enough for a probe or a dual-run batch; the client refreshes it after that. */
export const IMPERSONATION_LIFETIME_SECONDS = 600;

export interface ImpersonationOptions {
  lifetimeSeconds?: number;
  scopes?: string[];
  delegates?: string[];
}

/** Credentials acting as `targetPrincipal` through IAM Credentials, sourced from `source`; they refresh themselves. */
export async function impersonatedClient(config: EndpointConfig, source: GoogleAuth | OAuth2Client, targetPrincipal: string, options: ImpersonationOptions = {}): Promise<Impersonated> {
  const sourceClient: AuthClient = source instanceof GoogleAuth ? await source.getClient() : source;
  return new Impersonated({
    sourceClient,
    targetPrincipal,
    targetScopes: options.scopes ?? [CLOUD_PLATFORM],
    lifetime: options.lifetimeSeconds ?? 3600,
    delegates: options.delegates ?? [],
    ...(config.mode === 'emulator' ? { endpoint: config.baseUrl } : {}),
  });
}

/** The parts of the client set impersonation needs. */
export interface CanImpersonate {
  impersonate(targetPrincipal: string, options?: ImpersonationOptions): Promise<Impersonated>;
  genai(target: { kind: 'vertex'; project: string; location: string }, options?: { authClient?: AuthClient }): GoogleGenAI;
}

/** An auth client acting as `serviceAccountEmail`, refreshing its short-lived token itself. */
export function impersonate(clients: Pick<CanImpersonate, 'impersonate'>, serviceAccountEmail: string): Promise<Impersonated> {
  return clients.impersonate(serviceAccountEmail, { lifetimeSeconds: IMPERSONATION_LIFETIME_SECONDS });
}

/** A Vertex Gemini client acting as `serviceAccountEmail` by impersonation. */
export async function vertexGenAiAs(clients: CanImpersonate, serviceAccountEmail: string, target: { project: string; location: string }): Promise<GoogleGenAI> {
  return clients.genai({ kind: 'vertex', ...target }, { authClient: await impersonate(clients, serviceAccountEmail) });
}

