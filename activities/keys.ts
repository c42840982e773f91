// The API-key side of a migration as activities: inspection, the stopgap restriction, the live key
// check, the final restrict/delete, and their compensations. The work is the Google library's
// (google/keys/); these add heartbeats and the key's one undo. Keys are named by resource name
// everywhere; a key string exists only inside checkKeyWorks.

import type { KeylessActivities, UndoKeyChangesInput } from '../contracts/activities';
import { ErrorType, isKeylessError } from '../contracts/errors';
import { keyLeftAsFoundAdvice } from '../contracts/status';
import type { UndoChange, UndoResult } from '../contracts/undo';
import type { GoogleClients } from '../google/clients';
import { checkKeyWorks } from '../google/keys/check';
import { inspectKey, inventoryProject } from '../google/keys/inventory';
import { finalizeKey, restoreKeySnapshot, restrictKeyToGemini, undeleteKey } from '../google/keys/mutations';
import { heartbeat } from './context';

type KeyActivities = Pick<
  KeylessActivities,
  'inventoryProject' | 'inspectKey' | 'restrictKeyToGemini' | 'checkKeyWorks' | 'finalizeKey' | 'restoreKeySnapshot' | 'undeleteKey' | 'undoKeyChanges'
>;

export function createKeyActivities(clients: GoogleClients): KeyActivities {
  return {
    inventoryProject: (input) => inventoryProject(clients, input, heartbeat),
    inspectKey: (input) => inspectKey(clients, input),
    restrictKeyToGemini: (input) => restrictKeyToGemini(clients, input, heartbeat),
    checkKeyWorks: (input) => checkKeyWorks(clients, input),
    finalizeKey: (input) => finalizeKey(clients, input, heartbeat),
    restoreKeySnapshot: (input) => restoreKeySnapshot(clients, input, heartbeat),
    undeleteKey: (input) => undeleteKey(clients, input, heartbeat),
    undoKeyChanges: (input) => undoKeyChanges(clients, input),
  };
}

/**
 * Undelete (when keyless deleted the key) and restore the snapshot, unless someone else changed or
 * deleted the key after keyless did: their change wins, the key is left as found, and the result
 * says what the operator should do. Idempotent: a key already as the snapshot says is left alone.
 */
async function undoKeyChanges(clients: GoogleClients, input: UndoKeyChangesInput): Promise<UndoResult> {
  const changes: UndoChange[] = [];
  let expectedEtag = input.expectedEtag;
  let undeletedByKeyless = false;
  if (input.deleted) {
    const undeleted = await undeleteKey(clients, { apiKey: input.apiKey }, heartbeat);
    // A key that is no longer deleted was undeleted by someone else: keep the etag keyless left,
    // so the restore below refuses rather than overwrite what they did. (A retried undelete whose
    // first completion was lost looks the same; it errs the safe way: the key is left as found.)
    if (undeleted.undeleted) {
      expectedEtag = undeleted.etagAfter || expectedEtag;
      undeletedByKeyless = true;
      changes.push({ kind: 'key-undeleted', target: input.apiKey, detail: 'rollback: undeleted' });
    }
  }
  try {
    await restoreKeySnapshot(clients, { snapshot: input.snapshot, expectedEtag }, heartbeat);
    changes.push({ kind: 'key-restored', target: input.apiKey, detail: 'rollback: restrictions and annotations as before the migration' });
    return { changes };
  } catch (err) {
    const deleted = isKeylessError(err) && err.type === ErrorType.KeyNotFound;
    if (!isKeylessError(err) || (err.type !== ErrorType.ForeignChange && !deleted)) throw err;
    const found = (err.details[0] ?? {}) as { changedFields?: string[] };
    return {
      changes,
      // Whatever of keyless's change survived theirs is still there; an undelete keyless made is undone.
      notUndone: undeletedByKeyless ? ['key-restricted'] : ['key-restricted', 'key-deleted'],
      leftAsFound: {
        target: input.apiKey,
        changedFields: found.changedFields ?? (deleted ? ['deleteTime'] : []),
        reason: err.message,
        advice: keyLeftAsFoundAdvice(input.apiKey, input.snapshot, deleted),
      },
    };
  }
}
