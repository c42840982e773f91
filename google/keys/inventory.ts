// Inventory: what every key of a project may do and who uses it, the seed article's audit. Reads
// only; never fetches a key string.

import { ErrorType, KeylessError } from '../../contracts/errors';
import { projectNumber } from '../workload-identity';
import type { GoogleClients } from '../clients';
import { googleError } from '../errors';
import { listApiKeysPage } from './rest';
import { auditKey, snapshotOf, type KeyAudit } from './model';
import { readKey, type Progress } from './read';
import type { InspectKeyInput, InventoryProjectInput, KeyInspection } from '../../contracts/activities';

export type { InspectKeyInput, InventoryProjectInput, KeyInspection } from '../../contracts/activities';

/** The inventory's bound: 1,000 pages of 300 keys is far beyond Google's per-project key quota. */
const MAX_PAGES = 1_000;

/** Every active key of the project, classified; sorted by display name, then key id. */
export async function inventoryProject(clients: GoogleClients, input: InventoryProjectInput, progress?: Progress): Promise<KeyAudit[]> {
  const audits: KeyAudit[] = [];
  let pageToken: string | undefined;
  // Listing restarts from the first page on retry: a page token may expire, and a full listing
  // of even 10,000 keys takes well under a second.
  for (let page = 1; page <= MAX_PAGES; page++) {
    let result: Awaited<ReturnType<typeof listApiKeysPage>>;
    try {
      result = await listApiKeysPage(clients, input.project, pageToken);
    } catch (err) {
      throw googleError(err, { context: `inventoryProject ${input.project}: listing keys (page ${page})`, notFound: ErrorType.InvalidSpec });
    }
    audits.push(...result.keys.map(auditKey));
    progress?.({ project: input.project, pages: page, keys: audits.length });
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return audits.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.keyId.localeCompare(b.keyId));
}

/** One key's audit and the snapshot compensation restores; a soft-deleted key comes back as `state: deleted`. */
export async function inspectKey(clients: GoogleClients, input: InspectKeyInput): Promise<KeyInspection> {
  if (input.project) await assertKeyOfProject(clients, input.apiKey, input.project);
  const key = await readKey(clients, input.apiKey, 'inspectKey');
  const audit = auditKey(key);
  return {
    audit,
    snapshot: snapshotOf(key),
    sharedWith: audit.pipelines.filter((p) => p !== input.pipeline),
  };
}

/**
 * A migration acts on its own project only: the key a spec names must be a key of the spec's
 * project, whether its resource name gives the project id or (as Google's own answers do) the
 * project number, which is resolved here. Otherwise a spec for one project could restrict or
 * delete another project's key with the orchestrator's rights there.
 */
export async function assertKeyOfProject(clients: GoogleClients, apiKey: string, project: string): Promise<void> {
  const owner = /^projects\/([^/]+)\//.exec(apiKey)?.[1] ?? '';
  const same = /^[0-9]+$/.test(owner) ? owner === (await projectNumber(clients, project)) : owner === project;
  if (!same) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `apiKey names a key of project ${owner}, not of the spec's project ${project}: a migration changes only its own project's keys; migrate that key with a spec for its project`,
    });
  }
}
