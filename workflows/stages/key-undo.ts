// The key's undo: whatever keyless did to the key (the stopgap restriction, the final restrict or
// delete) is undone as one, by undelete-then-restore of the snapshot inventory took. Each change to
// the key records it again with the etag keyless left, so the log holds one, current, key undo.

import type { Undo } from '../../contracts/undo';
import type { Migration } from '../migration';

/** The id of the key's one undo in the log. */
export const KEY_UNDO = 'key';

export function keyUndo(m: Migration): Undo {
  return {
    id: KEY_UNDO,
    activity: 'undoKeyChanges',
    input: { apiKey: m.spec.apiKey, snapshot: m.facts.keySnapshot!, expectedEtag: m.facts.keyEtag!, deleted: m.facts.keyDeleted ?? false },
  };
}
