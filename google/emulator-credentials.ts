// The credentials a client uses in emulator mode, always explicit. Application Default
// Credentials would look first at GOOGLE_APPLICATION_CREDENTIALS and gcloud's well-known file
// (under CLOUDSDK_CONFIG or ~/.config/gcloud): on a laptop where someone ran `gcloud auth
// application-default login`, that is a real refresh token, which would be sent to Google (or a
// token minted with it, to the emulator). So in emulator mode no client of keyless asks ADC:
//
//   1. the auth client the caller passed;
//   2. KEYLESS_CREDENTIAL_CONFIG: the credential configuration a job was handed (a Workload
//      Identity configuration, or an emulator key file), loaded from that path alone;
//      GOOGLE_APPLICATION_CREDENTIALS counts only when it names that same file (`keyless exec`
//      hands it on to its command that way);
//   3. the emulator's metadata server for this process (GCE_METADATA_HOST), asked directly.
//
// A configuration whose token endpoint is not on the emulator's origin is refused: it would send
// its secret to Google.

import { readFileSync } from 'node:fs';
import { GoogleAuth, OAuth2Client } from 'google-auth-library';
import { CLOUD_PLATFORM, type EndpointConfig } from './endpoints';

type EmulatorConfig = Extract<EndpointConfig, { mode: 'emulator' }>;

/** A token source that asks the emulator's metadata server at `host` (GCE_METADATA_HOST) and nothing else. */
export function metadataServerCredentials(host: string): OAuth2Client {
  const client = new OAuth2Client();
  client.refreshHandler = async () => {
    const res = await fetch(`http://${host}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'Metadata-Flavor': 'Google' }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`the emulator's metadata server at ${host} answered ${res.status} for a token`);
    const body = (await res.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error(`the emulator's metadata server at ${host} gave no access token`);
    return { access_token: body.access_token, expiry_date: Date.now() + (body.expires_in ?? 300) * 1000 };
  };
  return client;
}

/** The token endpoints a credential file would call: each must be the emulator's. */
function tokenEndpoints(file: Record<string, unknown>): string[] {
  const urls = [file.token_url, file.token_uri, file.service_account_impersonation_url].filter((u): u is string => typeof u === 'string');
  if (file.type === 'authorized_user' && urls.length === 0) urls.push('https://oauth2.googleapis.com/token');
  return urls;
}

/** Emulator-mode credentials from a process's environment, by the order above; throws naming the variable when none is set up. */
export function emulatorCredentials(config: EmulatorConfig, env: Record<string, string | undefined>): OAuth2Client {
  const configured = env.KEYLESS_CREDENTIAL_CONFIG?.trim();
  if (configured) {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(readFileSync(configured, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`KEYLESS_CREDENTIAL_CONFIG (${configured}) cannot be read as a credential configuration: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`);
    }
    const origin = new URL(config.baseUrl).origin;
    const foreign = tokenEndpoints(file).filter((u) => !u.startsWith(`${origin}/`));
    if (foreign.length > 0) throw new Error(`KEYLESS_CREDENTIAL_CONFIG (${configured}) sends its credential to ${new URL(foreign[0]!).host}, not the emulator at ${origin}: in emulator mode only a configuration for the emulator is used`);
    return fileCredentials(configured);
  }
  if (config.metadataHost) return metadataServerCredentials(config.metadataHost);
  throw new Error("emulator mode needs the emulator's credentials: set GCE_METADATA_HOST to the emulator's metadata server for this identity (keyless emulator prints it), or KEYLESS_CREDENTIAL_CONFIG; Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login) are never used with the emulator");
}

/** A credential file loaded from its own path alone (never the ADC search), as one OAuth2Client every library accepts. */
function fileCredentials(path: string): OAuth2Client {
  const auth = new GoogleAuth({ keyFilename: path, scopes: [CLOUD_PLATFORM] });
  const client = new OAuth2Client();
  client.refreshHandler = async () => {
    const source = await auth.getClient();
    const { token } = await source.getAccessToken();
    if (!token) throw new Error(`the credential configuration ${path} gave no access token`);
    return { access_token: token, expiry_date: source.credentials.expiry_date ?? Date.now() + 300_000 };
  };
  return client;
}
