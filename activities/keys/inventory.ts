// Inventory: what every key of a project may do and who uses it, the seed article's audit. Reads
// only; never fetches a key string.

import { ErrorType } from '../../contracts/errors';
import type { GoogleClients } from '../google-clients';
import { toApplicationFailure } from '../google-errors';
import { listApiKeysPage } from './api-keys-rest';
import { auditKey, snapshotOf, type KeyAudit, type KeySnapshot } from './model';
import { heartbeat, readKey } from './runtime';

/** The inventory's bound: 1,000 pages of 300 keys is far beyond Google's per-project key quota. */
const MAX_PAGES = 1_000;

export interface InventoryProjectInput {
  project: string;
}

/** Every active key of the project, classified; sorted by display name, then key id. */
export async function inventoryProject(clients: GoogleClients, input: InventoryProjectInput): Promise<KeyAudit[]> {
  const audits: KeyAudit[] = [];
  let pageToken: string | undefined;
  // Listing restarts from the first page on retry: a page token may expire, and a full listing
  // of even 10,000 keys takes well under a second.
  for (let page = 1; page <= MAX_PAGES; page++) {
    let result: Awaited<ReturnType<typeof listApiKeysPage>>;
    try {
      result = await listApiKeysPage(clients, input.project, pageToken);
    } catch (err) {
      throw toApplicationFailure(err, { context: `inventoryProject ${input.project}: listing keys (page ${page})`, notFound: ErrorType.InvalidSpec });
    }
    audits.push(...result.keys.map(auditKey));
    heartbeat({ project: input.project, pages: page, keys: audits.length });
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return audits.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.keyId.localeCompare(b.keyId));
}

export interface InspectKeyInput {
  /** Key resource name (project id or number). */
  apiKey: string;
  /** The pipeline being migrated; other pipelines on the key are `sharedWith`. */
  pipeline: string;
}

export interface KeyInspection {
  audit: KeyAudit;
  snapshot: KeySnapshot;
  /** Other pipelines that use the same key (from its annotation). */
  sharedWith: string[];
}

/** One key's audit and the snapshot compensation restores; a soft-deleted key comes back as `state: deleted`. */
export async function inspectKey(clients: GoogleClients, input: InspectKeyInput): Promise<KeyInspection> {
  const key = await readKey(clients, input.apiKey, 'inspectKey');
  const audit = auditKey(key);
  return {
    audit,
    snapshot: snapshotOf(key),
    sharedWith: audit.pipelines.filter((p) => p !== input.pipeline),
  };
}
