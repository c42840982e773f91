// The Cloud Storage client (route documents in gs:// stores), pointed where the one endpoint
// configuration says.

import { Storage, type StorageOptions } from '@google-cloud/storage';
import type { OAuth2Client } from 'google-auth-library';
import type { EndpointConfig } from './endpoints';

/** A Storage client; `authClient` replaces Application Default Credentials. */
export function createStorage(config: EndpointConfig, authClient?: OAuth2Client): Storage {
  const options: StorageOptions = {
    // Publishing a route reads the object four times and writes it once in one attempt; with no
    // retry at all a 25 % fault rate failed 76 % of attempts and 1.6 % of publishes exhausted their
    // 15-attempt budget. So each request gets one retry a second later (1 s is the least Storage's
    // upload path accepts), not Storage's default of 3 over up to 10 minutes. Only reads and
    // conditional writes are retried (the default strategy), and the route store's writes are
    // conditional: a retry that finds its own write landed gets 412 and re-reads (route-store/gcs.ts).
    retryOptions: { autoRetry: true, maxRetries: 1, maxRetryDelay: 1, totalTimeout: 10 },
    ...(config.mode === 'emulator' ? { apiEndpoint: config.baseUrl, useAuthWithCustomEndpoint: true } : {}),
    // @google-cloud/storage 7 bundles google-auth-library 9: same runtime shape, separate types.
    ...(authClient ? { authClient: storageAuth(authClient) } : {}),
  };
  return new Storage(options);
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
