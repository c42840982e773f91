// A worker SIGKILLed in the middle of the identity step of a federated runtime: once after the pool
// was made and before the provider, once after the provider and before the binding. The migration
// goes on from history with each creation made once; a rejected cutover then removes each once; a
// re-run after that rollback works (the reserved ids are undeleted) and completes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, rejectUpdate } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { waitsForApproval } from '../../contracts/waits';
import { DEMO_PROJECT_NUMBER } from '../../emulator';
import { auditLog, startReliabilityBench, type ReliabilityBench } from '../support/reliability-bench';
import { pollUntil } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const PIPELINE = 'rel-kill-identity';
const POOL = `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless-kills`;
const PROVIDER = `${POOL}/providers/${PIPELINE}`;

let bench: ReliabilityBench;

beforeAll(async () => {
  bench = await startReliabilityBench([PIPELINE]);
});

afterAll(async () => {
  await bench?.stop();
});

/** Successful changes to the pool, the provider and the account's policy, from the emulator's audit log. */
async function identityChanges(from: number) {
  const ok = (await auditLog(bench.cloud.emulator.baseUrl)).slice(from).filter((e) => e.status >= 200 && e.status < 300 && e.method !== 'GET');
  const is = (suffix: RegExp) => ok.filter((e) => suffix.test(e.path)).length;
  return {
    poolCreates: is(/\/workloadIdentityPools$/),
    providerCreates: is(/\/workloadIdentityPools\/keyless-kills\/providers$/),
    poolDeletes: ok.filter((e) => e.method === 'DELETE' && e.path.endsWith('/workloadIdentityPools/keyless-kills')).length,
    providerDeletes: ok.filter((e) => e.method === 'DELETE' && e.path.endsWith(`/providers/${PIPELINE}`)).length,
    undeletes: is(/:undelete$/),
    accountPolicySets: is(new RegExp(`/serviceAccounts/${PIPELINE}-sa@demo-project\\.iam\\.gserviceaccount\\.com:setIamPolicy$`)),
  };
}

describe('given a worker SIGKILLed inside the identity step', () => {
  it('when it dies before the provider and before the binding, then each is made once, a rejected cutover removes each once, and a re-run completes', async () => {
    const { worker, taskQueue } = bench.newWorker('identity');
    const spec = bench.spec(PIPELINE, {
      runtime: { kind: 'github-actions', repository: 'acme/nightly-jobs', repositoryId: '812345678', pool: 'keyless-kills' },
      canary: { steps: [{ percent: 100, bake: '1s' }], analysisInterval: '1s' },
      approvals: { cutover: true, finalize: false },
    });
    const auditStart = (await auditLog(bench.cloud.emulator.baseUrl)).length;
    // A killed workflow task is handed to the next worker once it times out: 4 s instead of 10.
    const handle = await bench.start(spec, taskQueue, { workflowTaskTimeout: '4s' });
    const kills = ['ensureWorkloadIdentityProvider', 'ensureWorkloadIdentityUser'];
    for (const activity of kills) {
      await worker.start({ killAtActivity: activity });
      await worker.exited(120_000);
    }
    await worker.start();
    const waiting = await pollUntil(() => bench.status(PIPELINE), (s) => waitsForApproval(s.wait, 'cutover'), 'the cutover approval', 120_000, 200);
    const made = waiting.mutations.filter((m) => m.kind.startsWith('workload-identity')).map((m) => m.kind);
    expect(made).toEqual(['workload-identity-pool-created', 'workload-identity-provider-created', 'workload-identity-user-granted']);
    const afterSetup = await identityChanges(auditStart);
    expect(afterSetup).toMatchObject({ poolCreates: 1, providerCreates: 1, undeletes: 0 });

    await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
    const first = (await handle.result()) as MigrationResult;
    expect(first.outcome).toBe('rolled-back');
    expect(first.mutations.filter((m) => m.approvedBy === 'carol@example.com').map((m) => m.kind).slice(0, 3)).toEqual([
      'workload-identity-user-removed',
      'workload-identity-provider-deleted',
      'workload-identity-pool-deleted',
    ]);
    const afterRollback = await identityChanges(auditStart);
    expect(afterRollback).toMatchObject({ poolCreates: 1, providerCreates: 1, poolDeletes: 1, providerDeletes: 1 });

    const again = await bench.start(spec, taskQueue);
    await pollUntil(() => bench.status(PIPELINE), (s) => waitsForApproval(s.wait, 'cutover'), 'the second cutover approval', 120_000, 200);
    await again.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com' }] });
    const second = (await again.result()) as MigrationResult;
    await worker.stop();
    expect(second.outcome).toBe('completed');
    expect(second.workloadIdentity).toMatchObject({ provider: PROVIDER, verified: 'chain' });
    const afterRerun = await identityChanges(auditStart);
    // The ids were reserved: the re-run undeleted pool and provider instead of creating them.
    expect(afterRerun).toMatchObject({ poolCreates: 1, providerCreates: 1, undeletes: 2 });
    recordScenario({
      scenario: 'worker SIGKILL inside the identity step, then rollback and re-run',
      runs: kills.length,
      outcome: `killed before ${kills.join(' and before ')}; pool, provider and binding made once, removed once by the rollback; the re-run undeleted both ids and completed`,
    });
  }, 300_000);
});
