// The operator's Google ID token for approve, reject and promote, obtained on its own from the
// credentials at hand: on Google, Application Default Credentials (a user's login answers the
// `id_token` of its refresh, a service account's key or metadata server is asked for keyless's
// audience); with `--impersonate-service-account`, IAM Credentials generateIdToken for that account.
// On the embedded default the user's own credential files are never read: the token comes from the
// emulator, as the metadata server's account when GCE_METADATA_HOST is set (a worker's or the
// demo's process), else as the demo project's operator.

import type { AuthClient } from 'google-auth-library';
import { KEYLESS_APPROVAL_AUDIENCE } from '../contracts/identity';
import { DEMO_OPERATOR } from '../emulator/core/demo';
import type { EndpointConfig } from '../google/endpoints';
import { adcClient, idTokenFrom, impersonating, metadataClient, userCredentialsClient, type IdTokenSourceKind } from '../google/id-tokens';
import { ExitCode, UserError } from './errors';

export interface ApproverTokenOptions {
  config: EndpointConfig;
  env: NodeJS.ProcessEnv;
  /** Act as this service account (the caller needs roles/iam.serviceAccountTokenCreator on it). */
  impersonate?: string;
  /** The audience to ask for where the credentials may choose; default: the first of KEYLESS_APPROVAL_AUDIENCE, else keyless-approvals. */
  audience?: string;
  /** On the embedded default, the person to act as instead of the metadata server's account. */
  emulatorUser?: string;
}

export interface ApproverToken {
  idToken: string;
  via: IdTokenSourceKind;
  /** The email the token names (the worker checks it; this is for the operator's output). */
  email?: string;
}

/** The audience keyless asks for: the worker's first accepted one when this shell sets it too. */
export function approvalAudience(env: NodeJS.ProcessEnv, explicit?: string): string {
  return explicit ?? env.KEYLESS_APPROVAL_AUDIENCE?.split(',').map((a) => a.trim()).find(Boolean) ?? KEYLESS_APPROVAL_AUDIENCE;
}

async function sourceClient(options: ApproverTokenOptions): Promise<AuthClient> {
  const { config, env } = options;
  if (config.mode === 'google') return adcClient();
  if (env.GCE_METADATA_HOST && !options.emulatorUser) return metadataClient();
  const user = options.emulatorUser ?? DEMO_OPERATOR;
  const response = await fetch(`${config.baseUrl}/admin/v1/users/${encodeURIComponent(user)}:issueCredentials`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`the emulator at ${config.baseUrl} issued no credentials for ${user}: HTTP ${response.status}`);
  return userCredentialsClient(config, (await response.json()) as { client_id: string; client_secret: string; refresh_token: string });
}

/** A fresh ID token of the operator; a UserError saying how to get credentials when there are none. */
export async function approverIdToken(options: ApproverTokenOptions): Promise<ApproverToken> {
  const audience = approvalAudience(options.env, options.audience);
  try {
    const source = await sourceClient(options);
    const client = options.impersonate ? impersonating(options.config, source, options.impersonate) : source;
    const { idToken, via } = await idTokenFrom(client, audience);
    const email = emailOf(idToken);
    return { idToken, via, ...(email ? { email } : {}) };
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `cannot get a Google ID token to prove who you are: ${(err as Error).message}`,
      ExitCode.Config,
      options.config.mode === 'google'
        ? 'log in with `gcloud auth application-default login` (or run where a service account is attached), or pass --impersonate-service-account <email>'
        : 'start the embedded default with `keyless dev`, or set KEYLESS_EMULATOR to the emulator',
    );
  }
}

function emailOf(idToken: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { email?: unknown };
    return typeof claims.email === 'string' ? claims.email : undefined;
  } catch {
    return undefined;
  }
}
