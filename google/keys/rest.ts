// API Keys v2 reads, and the Node client's values turned into plain JSON.
//
// Reads go over REST with the clients' own credentials because @google-cloud/apikeys 2.2.2 predates
// `serviceAccountEmail`: its decoder drops the field, so an auth key would look like a standard
// key. Mutations stay on ApiKeysClient (its LRO polling). Both answer in the same JSON shape.

import type { GoogleClients } from '../clients';
import type { ApiKeyResource, KeyRestrictions } from './model';

/** The API Keys page size cap (Google's is undocumented; the emulator assumes 300). */
export const API_KEYS_PAGE_SIZE = 300;

interface RestCapable {
  request<T>(options: { url: string; method?: 'GET' }): Promise<{ data: T }>;
}


async function getJson<T>(clients: GoogleClients, path: string): Promise<T> {
  // GoogleAuth and OAuth2Client both expose an authenticated gaxios `request`.
  const auth = clients.auth as unknown as RestCapable;
  const { data } = await auth.request<T>({ url: `${clients.endpoints.apiKeys}/v2/${path}`, method: 'GET' });
  return data;
}

/** One key, also when soft-deleted (then with `deleteTime`). */
export function getApiKey(clients: GoogleClients, name: string): Promise<ApiKeyResource> {
  return getJson<ApiKeyResource>(clients, encodePath(name));
}

/** One page of a project's keys. */
export async function listApiKeysPage(
  clients: GoogleClients,
  project: string,
  pageToken?: string,
  showDeleted = false,
): Promise<{ keys: ApiKeyResource[]; nextPageToken?: string }> {
  const query = new URLSearchParams({ pageSize: String(API_KEYS_PAGE_SIZE) });
  if (pageToken) query.set('pageToken', pageToken);
  if (showDeleted) query.set('showDeleted', 'true');
  const page = await getJson<{ keys?: ApiKeyResource[]; nextPageToken?: string }>(
    clients,
    `projects/${encodeURIComponent(project)}/locations/global/keys?${query}`,
  );
  return { keys: page.keys ?? [], ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
}

function encodePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

type Timestampish = { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | string | null | undefined;

/** RFC 3339 from the Node client's `{seconds, nanos}` (seconds may be a Long or a string). */
export function timestampToIso(value: Timestampish): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value.seconds === null || value.seconds === undefined) return undefined;
  const millis = Number(String(value.seconds)) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
  return new Date(millis).toISOString();
}

/** A key the Node client decoded (LRO responses), as the plain JSON the activities return. */
export function keyFromClient(key: {
  name?: string | null;
  uid?: string | null;
  displayName?: string | null;
  createTime?: Timestampish;
  updateTime?: Timestampish;
  deleteTime?: Timestampish;
  annotations?: Record<string, string> | null;
  restrictions?: unknown;
  etag?: string | null;
}): ApiKeyResource {
  const deleteTime = timestampToIso(key.deleteTime);
  const createTime = timestampToIso(key.createTime);
  const updateTime = timestampToIso(key.updateTime);
  return {
    name: key.name ?? '',
    ...(key.uid ? { uid: key.uid } : {}),
    displayName: key.displayName ?? '',
    ...(createTime ? { createTime } : {}),
    ...(updateTime ? { updateTime } : {}),
    ...(deleteTime ? { deleteTime } : {}),
    annotations: { ...(key.annotations ?? {}) },
    // The decoder's null sub-messages and empty lists mean "no restriction".
    restrictions: JSON.parse(JSON.stringify(key.restrictions ?? {}, (_k, v) => (v === null ? undefined : v))) as KeyRestrictions,
    etag: key.etag ?? '',
  };
}
