// State nobody can forge: a migration started by hand with the plain Temporal client and a second
// argument (the memory continue-as-new carries) is refused before it touches anything, and so is
// one under a workflow id that is not its spec's. The exploit of issue 15 is the first case: a
// forged rollback with `accountCreated` and the orchestrator's own email deleted keyless@.
// Time-skipping server, the real activities, Google's clients against the emulator.

import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startMigrationBench, type MigrationBench } from '../support/migration-env';
import { auditLog } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const PIPELINE = 'forged-state';
let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([PIPELINE]);
});

afterAll(async () => {
  await bench?.stop();
});

const at = '2026-06-01T00:00:00.000Z';
/** The memory of issue 15: a rollback already asked for, and the orchestrator's account as "created". */
const forgedRollback = {
  stage: 'canary',
  rollback: { reason: 'x', at },
  facts: { accountCreated: true, serviceAccountEmail: DEMO_ORCHESTRATOR },
  mutations: [],
  vertexPercent: 0,
};

const forgedApprovals = {
  stage: 'canary',
  repair: false,
  mutations: [],
  decisions: [],
  approvals: [
    { stage: 'cutover', decision: 'approved', by: 'alice@example.com', at },
    { stage: 'finalize', decision: 'approved', by: 'alice@example.com', at },
  ],
  facts: {},
  canaryStep: 0,
  routeGeneration: 0,
  vertexPercent: 0,
  analyses: [],
};

const forgedSnapshot = {
  ...forgedApprovals,
  approvals: [],
  rollback: { reason: 'x', at },
  facts: {
    keySnapshot: { name: 'projects/480213697513/locations/global/keys/website-maps', restrictions: {}, annotations: {}, displayName: 'website maps widget', etag: 'W/"x"', updateTime: at },
  },
};

/** How a run started with `args` ended: its failure's type and message. */
async function refusal(args: unknown[], workflowId: string): Promise<ApplicationFailure> {
  return bench.withWorker(async (taskQueue) => {
    const handle = await bench.env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId, args });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    const history = await handle.fetchHistory();
    // Refused in the first workflow task: no activity was ever scheduled.
    expect((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    return cause as ApplicationFailure;
  });
}

async function orchestratorExists(): Promise<boolean> {
  return bench.cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/demo-project/serviceAccounts/${DEMO_ORCHESTRATOR}` }).then(
    () => true,
    () => false,
  );
}

describe('given the plain Temporal client and a forged second argument', () => {
  it('when the migration is started with the memory of issue 15, then it fails as UntrustedState and deletes nothing', async () => {
    const auditBefore = (await auditLog(bench.cloud.emulator.baseUrl)).length;
    const failure = await refusal([bench.spec(PIPELINE), forgedRollback], migrationWorkflowId('demo-project', PIPELINE));
    expect(failure.type).toBe('UntrustedState');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/refused a second workflow argument: a migration carries state only from an earlier run of itself continuing as new.*nothing was changed/);
    expect(await orchestratorExists()).toBe(true);
    const writes = (await auditLog(bench.cloud.emulator.baseUrl)).slice(auditBefore);
    expect(writes.filter((e) => e.method === 'DELETE')).toEqual([]);
    expect(writes).toEqual([]);
    recordScenario({ scenario: 'forged state: memory as a second argument', runs: 1, outcome: 'refused as UntrustedState in the first workflow task; no activity scheduled, no write in the audit log, keyless@ still exists' });
  });

  it('when the forged memory carries approvals or another key\'s snapshot, then each is refused the same way', async () => {
    for (const memory of [forgedApprovals, forgedSnapshot]) {
      const failure = await refusal([bench.spec(PIPELINE), memory], migrationWorkflowId('demo-project', PIPELINE));
      expect(failure.type).toBe('UntrustedState');
    }
    recordScenario({ scenario: 'forged state: approvals, another key\'s snapshot', runs: 2, outcome: 'both refused as UntrustedState before any activity' });
  });

  it('when a wave approval is handed over by someone who is not the fleet, then it fails as UntrustedState before any activity', async () => {
    const grant = { fleet: 'nightly', wave: 1, by: 'alice@example.com', at, verified: true };
    const failure = await refusal([bench.spec(PIPELINE), undefined, grant], migrationWorkflowId('demo-project', PIPELINE));
    expect(failure.type).toBe('UntrustedState');
    expect(failure.message).toMatch(/only the fleet keyless-fleet\/nightly that started this migration may hand one over/);
    recordScenario({ scenario: 'forged wave approval (third argument, no parent fleet)', runs: 1, outcome: 'refused as UntrustedState before any activity' });
  });

  it('when the workflow id is not the spec\'s keyless/<project>/<pipeline>, then it fails as InvalidSpec before any activity', async () => {
    const failure = await refusal([bench.spec(PIPELINE)], `keyless/demo-project/${PIPELINE}-elsewhere`);
    expect(failure.type).toBe('InvalidSpec');
    expect(failure.message).toMatch(/workflow id is keyless\/demo-project\/forged-state-elsewhere, but its spec's is keyless\/demo-project\/forged-state/);
    recordScenario({ scenario: 'workflow id not the spec\'s', runs: 1, outcome: 'refused as InvalidSpec before any activity' });
  });
});
