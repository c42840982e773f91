// Recorded histories of a completed and of a rolled-back migration, replayed against the current
// workflow code: a change that would break running migrations fails here. Re-record them (and
// guard the change with patched()) only when the change is meant to reach running migrations:
// KEYLESS_RECORD_HISTORIES=test/histories npx vitest run test/workflows/migrate-pipeline.test.ts

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
  it('has the completed and the rolled-back migration recorded', () => {
    expect(histories).toEqual(expect.arrayContaining(['completed-migration.json', 'rolled-back-migration.json']));
  });

  it.each(histories)('%s replays without nondeterminism', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(folder, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file)).resolves.toBeUndefined();
  });
});
