// Starts the real emulator for the core and identity/cloud-admin surface tests and builds the
// official clients against it, authenticated as a named principal through tokens the emulator
// minted. No client is stubbed: every call crosses HTTP.

import { ApiKeysClient } from '@google-cloud/apikeys';
import { cloudresourcemanager } from '@googleapis/cloudresourcemanager';
import { iam } from '@googleapis/iam';
import { iamcredentials } from '@googleapis/iamcredentials';
import { OAuth2Client } from 'google-auth-library';
import { startEmulator, type FixtureInput, type RunningEmulator, type StartEmulatorOptions } from '../../emulator/index';

export const PROJECT = 'demo-project';
export const PROJECT_NUMBER = '480213697513';
export const ORCHESTRATOR = 'keyless@demo-project.iam.gserviceaccount.com';
export const CI_DEPLOYER = 'ci-deployer@demo-project.iam.gserviceaccount.com';
export const PARENT = `projects/${PROJECT}/locations/global`;

/** Keeps google-auth-library away from real Google (google-clients.md §7). */
export function isolateFromGoogle(): void {
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.GOOGLE_CLOUD_PROJECT = PROJECT;
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  delete process.env.GCE_METADATA_HOST;
}

export interface CoreHarness {
  emu: RunningEmulator;
  baseUrl: string;
  /** A static-token OAuth2Client acting as the account. */
  authAs(email: string): OAuth2Client;
  /** A static-token client acting as a human user. */
  userAuth(email: string): Promise<OAuth2Client>;
  apiKeys(auth: OAuth2Client): ApiKeysClient;
  iamApi(auth: OAuth2Client): ReturnType<typeof iamV1>;
  crm(version: 'v1', auth: OAuth2Client): ReturnType<typeof crmV1>;
  crmV3(auth: OAuth2Client): ReturnType<typeof crmV3>;
  credentialsApi(auth: OAuth2Client): ReturnType<typeof credsV1>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

const iamV1 = (rootUrl: string, auth: OAuth2Client) => iam({ version: 'v1', rootUrl, auth });
const crmV1 = (rootUrl: string, auth: OAuth2Client) => cloudresourcemanager({ version: 'v1', rootUrl, auth });
const crmV3 = (rootUrl: string, auth: OAuth2Client) => cloudresourcemanager({ version: 'v3', rootUrl, auth });
const credsV1 = (rootUrl: string, auth: OAuth2Client) => iamcredentials({ version: 'v1', rootUrl, auth });

export function staticTokenClient(token: string): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token });
  return client;
}

export async function startCoreHarness(fixture: FixtureInput | 'demo' = 'demo', options: Omit<StartEmulatorOptions, 'fixture'> = {}): Promise<CoreHarness> {
  isolateFromGoogle();
  const emu = await startEmulator({ fixture, ...options });
  const rootUrl = `${emu.baseUrl}/`;
  const url = new URL(emu.baseUrl);
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${emu.baseUrl}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    emu,
    baseUrl: emu.baseUrl,
    authAs: (email) => staticTokenClient(emu.mintAccessToken(email)),
    userAuth: async (email) => staticTokenClient((await admin('POST', `/admin/v1/users/${email}:mintAccessToken`, {})).body.accessToken),
    apiKeys: (auth) => new ApiKeysClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', authClient: auth }),
    iamApi: (auth) => iamV1(rootUrl, auth),
    crm: (_version, auth) => crmV1(rootUrl, auth),
    crmV3: (auth) => crmV3(rootUrl, auth),
    credentialsApi: (auth) => credsV1(rootUrl, auth),
    admin,
    stop: () => emu.stop(),
  };
}

/** The Google error envelope carried by a client error (gax REST puts the raw body in `message`). */
export function googleError(err: unknown): { code: number; status: string; message: string; details?: any[]; errors?: any[] } {
  const e = err as { message?: string; response?: { data?: any }; code?: unknown };
  const data = e.response?.data;
  if (data && typeof data === 'object' && 'error' in data) return data.error;
  const text = e.message ?? '';
  const start = text.indexOf('{');
  if (start >= 0) {
    try {
      return JSON.parse(text.slice(start)).error;
    } catch {
      // fall through
    }
  }
  throw new Error(`not a Google error: ${text}`);
}

/** The ErrorInfo reason of an envelope, if any. */
export function reasonOf(error: { details?: any[] }): string | undefined {
  return error.details?.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo')?.reason;
}

/** Awaits a promise that must reject, returning the rejection. */
export async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}
