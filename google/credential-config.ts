// The credential configuration a federated job loads (an `external_account` ADC file): not a
// secret, only where to get the job's own token, where to exchange it (STS) and which account to
// act as. Google's auth libraries (Node google-auth-library, Python google-auth, gcloud) load it
// through GOOGLE_APPLICATION_CREDENTIALS; in the embedded default only its endpoints differ.

import type { EndpointConfig } from './endpoints';

/** Where the job's own OIDC token comes from. */
export type SubjectTokenSource =
  /** A file the job (or a step before it) writes the token to: GitLab's id_tokens, a Kubernetes projected token. */
  | { kind: 'file'; path: string }
  /** A URL answering JSON `{ "value": "<token>" }`: GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL with its bearer request token. */
  | { kind: 'url'; url: string; headers: Record<string, string>; jsonField: string };

export interface CredentialConfigInput {
  /** `//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  audience: string;
  serviceAccountEmail: string;
  source: SubjectTokenSource;
  /** One hour by default; Google allows up to 12 with an org policy. */
  tokenLifetimeSeconds?: number;
}

/** The `external_account` JSON, with Google's endpoints or, in emulator mode, the emulator's. */
export function credentialConfiguration(config: EndpointConfig, input: CredentialConfigInput): Record<string, unknown> {
  const sts = config.mode === 'emulator' ? config.baseUrl : 'https://sts.googleapis.com';
  const iamCredentials = config.mode === 'emulator' ? config.baseUrl : 'https://iamcredentials.googleapis.com';
  const source =
    input.source.kind === 'file'
      ? { file: input.source.path }
      : { url: input.source.url, headers: input.source.headers, format: { type: 'json', subject_token_field_name: input.source.jsonField } };
  return {
    type: 'external_account',
    audience: input.audience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: `${sts}/v1/token`,
    service_account_impersonation_url: `${iamCredentials}/v1/projects/-/serviceAccounts/${input.serviceAccountEmail}:generateAccessToken`,
    ...(input.tokenLifetimeSeconds ? { service_account_impersonation: { token_lifetime_seconds: input.tokenLifetimeSeconds } } : {}),
    credential_source: source,
  };
}

/** GitHub Actions' token endpoint as a credential source: the runner's URL, asked for the provider's audience. */
export function githubRunnerSource(requestUrl: string, requestToken: string, audience: string): SubjectTokenSource {
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience.replace(/^\/\//, 'https://'));
  return { kind: 'url', url: url.toString(), headers: { Authorization: `bearer ${requestToken}` }, jsonField: 'value' };
}
