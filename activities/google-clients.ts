// The one place that decides where Google clients point: Google's endpoints with Application
// Default Credentials, or, when KEYLESS_EMULATOR holds the emulator's base URL, the emulator for
// every client. Nothing else in keyless special-cases the emulator; with the emulator, ADC itself
// resolves through its metadata server (GCE_METADATA_HOST), exactly as on a GCE VM.

import { ApiKeysClient } from '@google-cloud/apikeys';
import { MetricServiceClient } from '@google-cloud/monitoring';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { GoogleGenAI } from '@google/genai';
import { cloudresourcemanager, type cloudresourcemanager_v1, type cloudresourcemanager_v3 } from '@googleapis/cloudresourcemanager';
import { iam, type iam_v1 } from '@googleapis/iam';
import { iamcredentials, type iamcredentials_v1 } from '@googleapis/iamcredentials';
import { GoogleAuth, Impersonated, type AuthClient, type OAuth2Client } from 'google-auth-library';
import { z } from 'zod';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** Where the clients send requests. */
export const EndpointConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('google') }),
  z.object({
    mode: z.literal('emulator'),
    /** `http://127.0.0.1:<port>`: the emulator serves every surface on one origin. */
    baseUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  }),
]);
export type EndpointConfig = z.output<typeof EndpointConfigSchema>;

/** Reads KEYLESS_EMULATOR once: set and non-empty means every client talks to the emulator. */
export function endpointConfigFromEnv(env: Record<string, string | undefined>): EndpointConfig {
  const emulator = env.KEYLESS_EMULATOR?.trim();
  return EndpointConfigSchema.parse(emulator ? { mode: 'emulator', baseUrl: emulator } : { mode: 'google' });
}

/** How a Gemini client authenticates: an API key on the Gemini API, or a principal on Vertex. */
export type GenAiTarget = { kind: 'gemini'; apiKey: string } | { kind: 'vertex'; project: string; location: string };

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
  endpoints: { apiKeys: string; iam: string; iamCredentials: string; resourceManager: string };
  /**
   * A Gemini client for one target; never both an API key and Vertex. `authClient` makes a
   * Vertex client act as someone else (e.g. an impersonated pipeline account).
   */
  genai(target: GenAiTarget, options?: { authClient?: AuthClient }): GoogleGenAI;
  /** Credentials acting as `targetPrincipal` through IAM Credentials, sourced from `auth`. */
  impersonate(targetPrincipal: string, options?: { lifetimeSeconds?: number; scopes?: string[]; delegates?: string[] }): Promise<Impersonated>;
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

export function createGoogleClients(config: EndpointConfig, options: CreateGoogleClientsOptions = {}): GoogleClients {
  const auth: GoogleAuth | OAuth2Client = options.authClient ?? new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
  // REST fallback in production too: one wire format, the one the emulator tests exercise.
  const gax = { fallback: true as const, ...gaxEndpoint(config), ...(options.authClient ? { authClient: options.authClient } : { auth: auth as GoogleAuth }) };
  const rootUrl = config.mode === 'emulator' ? `${config.baseUrl}/` : undefined;
  // Temporal's retry policies (workflows/activities.ts) own retries: a library that retries a 429
  // or 5xx by itself sleeps in real time inside the attempt (gaxios: 3 retries of every GET, PUT
  // and DELETE, 2 s in all), where no attempt budget, heartbeat or time-skipping test server sees
  // it: an IAM outage took 60 requests and 32 s of real time instead of 15 attempts. So the
  // discovery clients fail fast and the activity retries.
  const discovery = { auth, retry: false, ...(rootUrl ? { rootUrl } : {}) };
  const storageOptions: StorageOptions = {
    // Publishing a route reads the object four times and writes it once in one attempt; with no
    // retry at all a 25 % fault rate failed 76 % of attempts and 1.6 % of publishes exhausted their
    // 15-attempt budget. So each request gets one retry a second later (1 s is the least Storage's
    // upload path accepts), not Storage's default of 3 over up to 10 minutes. Only reads and
    // conditional writes are retried (the default strategy), and the route store's writes are
    // conditional: a retry that finds its own write landed gets 412 and re-reads (route-store-gcs).
    retryOptions: { autoRetry: true, maxRetries: 1, maxRetryDelay: 1, totalTimeout: 10 },
    ...(config.mode === 'emulator' ? { apiEndpoint: config.baseUrl, useAuthWithCustomEndpoint: true } : {}),
    // @google-cloud/storage 7 bundles google-auth-library 9: same runtime shape, separate types.
    ...(options.authClient ? { authClient: storageAuth(options.authClient) } : {}),
  };
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
    storage: new Storage(storageOptions),
    endpoints: {
      apiKeys: config.mode === 'emulator' ? config.baseUrl : 'https://apikeys.googleapis.com',
      iam: config.mode === 'emulator' ? config.baseUrl : 'https://iam.googleapis.com',
      iamCredentials: config.mode === 'emulator' ? config.baseUrl : 'https://iamcredentials.googleapis.com',
      resourceManager: config.mode === 'emulator' ? config.baseUrl : 'https://cloudresourcemanager.googleapis.com',
    },
    genai(target, genaiOptions = {}) {
      const httpOptions = config.mode === 'emulator' ? { httpOptions: { baseUrl: config.baseUrl } } : {};
      if (target.kind === 'gemini') return new GoogleGenAI({ vertexai: false, apiKey: target.apiKey, ...httpOptions });
      const authClient = genaiOptions.authClient ?? options.authClient;
      return new GoogleGenAI({
        vertexai: true,
        project: target.project,
        location: target.location,
        ...httpOptions,
        ...(authClient ? { googleAuthOptions: { authClient } } : {}),
      });
    },
    async impersonate(targetPrincipal, impersonation = {}) {
      const sourceClient: AuthClient = auth instanceof GoogleAuth ? await auth.getClient() : auth;
      return new Impersonated({
        sourceClient,
        targetPrincipal,
        targetScopes: impersonation.scopes ?? [CLOUD_PLATFORM],
        lifetime: impersonation.lifetimeSeconds ?? 3600,
        delegates: impersonation.delegates ?? [],
        ...(config.mode === 'emulator' ? { endpoint: config.baseUrl } : {}),
      });
    },
  };
}

/**
 * @google-cloud/storage 7 bundles google-auth-library 9, which reads request headers as a plain
 * object; version 10's OAuth2Client returns a Headers instance, which 9 reads as empty (no token
 * is sent). Storage only asks its auth client for headers, so hand it plain ones.
 */
function storageAuth(client: OAuth2Client): StorageOptions['authClient'] {
  const adapter = {
    async getRequestHeaders(url?: string): Promise<Record<string, string>> {
      const headers = await client.getRequestHeaders(url);
      return Object.fromEntries(headers instanceof Headers ? headers.entries() : Object.entries(headers as Record<string, string>));
    },
  };
  return adapter as unknown as StorageOptions['authClient'];
}
