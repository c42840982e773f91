// Rollback: abort is recorded (Migration.requestRollback), then unwound here. Each change was
// recorded with its undo; the undos run newest first, in a scope cancellation cannot interrupt,
// and each is marked done once it succeeds, so a rollback retried or resumed never repeats a step.

import { CancellationScope, patched } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import type { UndoResult } from '../contracts/undo';
import { compensations } from './activities';
import { countRollback } from './metrics';
import type { Migration } from './migration';
import { legacyRollback } from './rollback-legacy';

/** Patch: rollback walks the undo log (histories before it ran the hand-ordered legacy rollback). */
const UNDO_LOG = 'undo-log';

export async function rollback(m: Migration): Promise<void> {
  countRollback(m.rollbackRecord?.failureType ?? ErrorType.OperatorRequest);
  m.setWait(undefined);
  m.enter('rolling-back');
  await CancellationScope.nonCancellable(async () => {
    if (!patched(UNDO_LOG)) return legacyRollback(m);
    const by = m.rollbackRecord?.by;
    for (const undo of m.pendingUndos()) {
      const compensate = compensations[undo.activity] as (input: typeof undo.input) => Promise<UndoResult>;
      m.completeUndo(undo, await compensate(undo.input), by);
    }
  });
  m.enter('rolled-back');
}
