// Recorded histories, replayed against the current workflow code: a change that would break
// running migrations fails here. `pre-undo-log-*` were recorded before the undo log (their
// rollbacks replay through workflows/rollback-legacy.ts): keep them as they are. Re-record the
// others (and guard the change with patched()) only when a change is meant to reach running
// migrations: KEYLESS_RECORD_HISTORIES=test/histories npx vitest run test/workflows/migrate-pipeline.test.ts
// test/reliability/ownership.test.ts test/reliability/shared-key.test.ts test/workflows/identity.test.ts
// `least-privilege-*` were recorded with routes by project and the token-creator grant taken back
// after the dual-run (patches 'route-by-project', 'token-creator-revoked-after-dual-run'); the
// histories recorded before those patches stay, so running migrations keep replaying.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from '../support/temporal';

const folder = fileURLToPath(new URL('../histories', import.meta.url));
const histories = readdirSync(folder).filter((f) => f.endsWith('.json'));

describe('replay of recorded migrations', () => {
  it('has completed and rolled-back migrations recorded, before and since the undo log', () => {
    expect(histories).toEqual(
      expect.arrayContaining([
        'completed-migration.json',
        'rolled-back-migration.json',
        'foreign-change-rollback.json',
        'shared-key-migration.json',
        'federated-migration.json',
        'federated-rollback.json',
        'pre-undo-log-completed-migration.json',
        'pre-undo-log-rolled-back-migration.json',
        'pre-undo-log-foreign-change-rollback.json',
        'least-privilege-completed-migration.json',
        'least-privilege-rolled-back-migration.json',
      ]),
    );
  });

  it.each(histories)('%s replays without nondeterminism', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(folder, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file)).resolves.toBeUndefined();
  });
});
