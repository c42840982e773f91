// Recorded histories, replayed against the current workflow code: a change that would break
// running migrations fails here. `pre-undo-log-*` were recorded before the undo log (their
// rollbacks replay through workflows/rollback-legacy.ts): keep them as they are. Re-record the
// others (and guard the change with patched()) only when a change is meant to reach running
// migrations: KEYLESS_RECORD_HISTORIES=test/histories npx vitest run test/workflows/migrate-pipeline.test.ts
// test/reliability/ownership.test.ts test/reliability/shared-key.test.ts test/workflows/identity.test.ts
// test/reliability/verified-approvals.test.ts. The canary's evidence rules (workflows/patches.ts) are
// recorded by test/workflows/canary-evidence.test.ts and test/workflows/canary-judgement.test.ts:
// canary-evidence-*, evidence-wait-*, gate-breach-*.
// `least-privilege-*` were recorded with routes by project and the token-creator grant taken back
// after the dual-run (patches 'route-by-project', 'token-creator-revoked-after-dual-run'); the
// histories recorded before those patches stay, so running migrations keep replaying.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import { workflowBundle } from '../support/temporal';

/**
 * The id the history ran under: a migration checks its id against its spec (patched
 * 'state-from-continue-as-new'), and a history does not record its own id, so it is derived
 * from the spec in the started event, as keyless migrate derives it.
 */
function recordedWorkflowId(history: temporal.api.history.v1.History, fallback: string): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const data = started?.input?.payloads?.[0]?.data;
  if (started?.workflowType?.name !== MIGRATE_PIPELINE_WORKFLOW || !data) return fallback;
  const spec = JSON.parse(Buffer.from(data).toString('utf8')) as { project: string; pipeline: string };
  return migrationWorkflowId(spec.project, spec.pipeline);
}

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
        'zero-soak-migration.json',
        'canary-evidence-migration.json',
        'evidence-wait-promoted-migration.json',
        'gate-breach-migration.json',
        'verified-approvals-migration.json',
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
    await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, recordedWorkflowId(history, file))).resolves.toBeUndefined();
  });
});
