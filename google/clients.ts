// Google's official clients as the orchestrator uses them, all pointed at the same place (Google
// or the emulator, google/endpoints.ts) with the same credentials. Built once per process from
// one parsed configuration and passed to whoever needs them: the worker's activities and the CLI.

import { ApiKeysClient } from '@google-cloud/apikeys';
import { MetricServiceClient } from '@google-cloud/monitoring';
import type { Storage } from '@google-cloud/storage';
import type { GoogleGenAI } from '@google/genai';
import { cloudresourcemanager, type cloudresourcemanager_v1, type cloudresourcemanager_v3 } from '@googleapis/cloudresourcemanager';
import { iam, type iam_v1 } from '@googleapis/iam';
import { iamcredentials, type iamcredentials_v1 } from '@googleapis/iamcredentials';
import { Compute, GoogleAuth, type AuthClient, type Impersonated, type OAuth2Client } from 'google-auth-library';
import { CLOUD_PLATFORM, type EndpointConfig } from './endpoints';
import { createGenAi, type GenAiTarget } from './genai';
import { impersonatedClient, type ImpersonationOptions } from './impersonation';
import { createStorage } from './storage';

export { EndpointConfigSchema, endpointConfigFromEnv, type EndpointConfig } from './endpoints';
export type { GenAiTarget } from './genai';

/** The Google clients keyless uses, all pointed at the same place. */
export interface GoogleClients {
  config: EndpointConfig;
  /** The credentials every client below uses (ADC unless an auth client was given). */
  auth: GoogleAuth | OAuth2Client;
  apiKeys: ApiKeysClient;
  iam: iam_v1.Iam;
  resourceManager: cloudresourcemanager_v3.Cloudresourcemanager;
  resourceManagerV1: cloudresourcemanager_v1.Cloudresourcemanager;
  iamCredentials: iamcredentials_v1.Iamcredentials;
  monitoring: MetricServiceClient;
  storage: Storage;
  /** Base URLs of the REST APIs, for the rare call no client library covers (e.g. fields newer than the client). */
  endpoints: { apiKeys: string; iam: string; iamCredentials: string; resourceManager: string; run: string; sts: string };
  /**
   * A Gemini client for one target; never both an API key and Vertex. `authClient` makes a
   * Vertex client act as someone else (e.g. an impersonated pipeline account).
   */
  genai(target: GenAiTarget, options?: { authClient?: AuthClient }): GoogleGenAI;
  /** Credentials acting as `targetPrincipal` through IAM Credentials, sourced from `auth`. */
  impersonate(targetPrincipal: string, options?: ImpersonationOptions): Promise<Impersonated>;
}

export interface CreateGoogleClientsOptions {
  /** Credentials to use instead of Application Default Credentials (e.g. a static token in tests). */
  authClient?: OAuth2Client;
}

/**
 * gax client configuration that retries none of `methods`. Monitoring's defaults ask ListTimeSeries
 * to retry UNAVAILABLE with real-time sleeps for up to 10 minutes, far past the activity's
 * start-to-close timeout. gax 5 over REST happens not to act on it (it compares the HTTP status
 * with gRPC codes); this keeps it so when that is fixed.
 */
function withoutRetries(service: string, methods: string[]): { interfaces: Record<string, { retry_codes: Record<string, string[]>; methods: Record<string, { retry_codes_name: string }> }> } {
  return { interfaces: { [service]: { retry_codes: { none: [] }, methods: Object.fromEntries(methods.map((m) => [m, { retry_codes_name: 'none' }])) } } };
}

/** gax (REST fallback) options for an origin; `port` must be separate or gax dials 443. */
function gaxEndpoint(config: EndpointConfig): { apiEndpoint?: string; port?: number; protocol?: string } {
  if (config.mode === 'google') return {};
  const url = new URL(config.baseUrl);
  const protocol = url.protocol.replace(':', '');
  return { apiEndpoint: url.hostname, port: Number(url.port || (protocol === 'https' ? 443 : 80)), protocol };
}

/**
 * The orchestrator's credentials: Application Default Credentials against Google; in emulator mode
 * the emulator's metadata server (GCE_METADATA_HOST), asked directly. ADC would first look for
 * GOOGLE_APPLICATION_CREDENTIALS and the gcloud login of whoever runs the demo (real credentials,
 * sent to a local emulator or to Google), and its metadata-server detection gives up after a few
 * seconds on a loaded machine, failing every call of the process for good.
 */
function defaultAuth(config: EndpointConfig): GoogleAuth | OAuth2Client {
  return config.mode === 'emulator' ? new Compute({ scopes: [CLOUD_PLATFORM] }) : new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
}

export function createGoogleClients(config: EndpointConfig, options: CreateGoogleClientsOptions = {}): GoogleClients {
  const auth: GoogleAuth | OAuth2Client = options.authClient ?? defaultAuth(config);
  // REST fallback in production too: one wire format, the one the emulator tests exercise.
  const gax = { fallback: true as const, ...gaxEndpoint(config), ...(auth instanceof GoogleAuth ? { auth } : { authClient: auth }) };
  const rootUrl = config.mode === 'emulator' ? `${config.baseUrl}/` : undefined;
  // Temporal's retry policies (workflows/activities.ts) own retries: a library that retries a 429
  // or 5xx by itself sleeps in real time inside the attempt (gaxios: 3 retries of every GET, PUT
  // and DELETE, 2 s in all), where no attempt budget, heartbeat or time-skipping test server sees
  // it: an IAM outage took 60 requests and 32 s of real time instead of 15 attempts. So the
  // discovery clients fail fast and the activity retries.
  const discovery = { auth, retry: false, ...(rootUrl ? { rootUrl } : {}) };
  const endpoint = (google: string) => (config.mode === 'emulator' ? config.baseUrl : google);
  return {
    config,
    auth,
    // API Keys methods are all non-idempotent in gax's defaults: none is retried already.
    apiKeys: new ApiKeysClient(gax),
    iam: iam({ version: 'v1', ...discovery }),
    resourceManager: cloudresourcemanager({ version: 'v3', ...discovery }),
    resourceManagerV1: cloudresourcemanager({ version: 'v1', ...discovery }),
    iamCredentials: iamcredentials({ version: 'v1', ...discovery }),
    monitoring: new MetricServiceClient({ ...gax, clientConfig: withoutRetries('google.monitoring.v3.MetricService', ['ListTimeSeries']) }),
    storage: createStorage(config, auth instanceof GoogleAuth ? undefined : auth),
    endpoints: {
      apiKeys: endpoint('https://apikeys.googleapis.com'),
      iam: endpoint('https://iam.googleapis.com'),
      iamCredentials: endpoint('https://iamcredentials.googleapis.com'),
      resourceManager: endpoint('https://cloudresourcemanager.googleapis.com'),
      run: endpoint('https://run.googleapis.com'),
      sts: endpoint('https://sts.googleapis.com'),
    },
    genai(target, genaiOptions = {}) {
      return createGenAi(config, target, target.kind === 'vertex' ? (genaiOptions.authClient ?? (auth instanceof GoogleAuth ? undefined : auth)) : undefined);
    },
    impersonate(targetPrincipal, impersonation = {}) {
      return impersonatedClient(config, auth, targetPrincipal, impersonation);
    },
  };
}
