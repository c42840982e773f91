// The identity stage end to end on the time-skipping server, with the real activities against the
// emulator: a GitHub Actions runtime gets its pool, provider and binding, and the probe walks the
// job's own path (a runner token through STS and impersonation to Vertex); a rollback removes what
// keyless created, newest first, and a re-run after it undeletes the reserved ids and completes; a
// Cloud Run job's own account is adopted and never deleted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectUpdate, statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { waitsForApproval } from '../../contracts/waits';
import { DEMO_PROJECT_NUMBER } from '../../emulator';
import { approveBoth, maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';

const POOL = `projects/${DEMO_PROJECT_NUMBER}/locations/global/workloadIdentityPools`;
const REPOSITORY = { repository: 'acme/nightly-jobs', repositoryId: '812345678', repositoryOwnerId: '4242' };
const CLOUD_RUN_ACCOUNT = 'nightly-runner@demo-project.iam.gserviceaccount.com';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['wif-happy', 'wif-again', 'run-job'], {
    tweak: (fixture) => {
      fixture.serviceAccounts!.push({ project: 'demo-project', accountId: 'nightly-runner', displayName: 'the Cloud Run job nightly', roles: ['roles/storage.objectViewer'] });
      fixture.cloudRun = { jobs: [{ project: 'demo-project', location: 'us-central1', name: 'nightly', serviceAccount: CLOUD_RUN_ACCOUNT }] };
    },
  });
});

afterAll(async () => {
  await bench?.stop();
});

const kinds = (result: MigrationResult) => result.mutations.map((m) => m.kind);

async function resourceState(name: string): Promise<string | undefined> {
  const pools = bench.cloud.clients.iam.projects.locations.workloadIdentityPools;
  const read = name.includes('/providers/') ? pools.providers.get({ name }) : pools.get({ name });
  return read.then((r) => r.data.state ?? undefined, () => undefined);
}

async function workloadIdentityUsers(email: string): Promise<string[]> {
  const { data } = await bench.cloud.clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/demo-project/serviceAccounts/${email}` });
  return (data.bindings ?? []).filter((b) => b.role === 'roles/iam.workloadIdentityUser').flatMap((b) => b.members ?? []);
}

describe('given a pipeline whose job runs on GitHub Actions', () => {
  it('when it migrates, then the pool, the provider and the binding are made, the probe walks the job\'s path, and the result records them', async () => {
    const spec = bench.spec('wif-happy', { runtime: { kind: 'github-actions', ...REPOSITORY, ref: 'refs/heads/main' } });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await approveBoth(bench, handle);
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('federated-migration', await handle.fetchHistory());
      return done;
    });
    expect(result.outcome).toBe('completed');
    expect(kinds(result).slice(0, 7)).toEqual(['key-restricted', 'account-created', 'role-granted', 'token-creator-granted', 'workload-identity-pool-created', 'workload-identity-provider-created', 'workload-identity-user-granted']);
    const provider = `${POOL}/keyless/providers/wif-happy`;
    const member = `principalSet://iam.googleapis.com/${POOL}/keyless/attribute.repository_id/812345678`;
    expect(result.workloadIdentity).toEqual({ pool: `${POOL}/keyless`, provider, member, attributeCondition: "assertion.repository_id == '812345678' && assertion.repository_owner_id == '4242' && assertion.ref == 'refs/heads/main'", verified: 'chain' });
    expect(result.mutations.find((m) => m.kind === 'workload-identity-user-granted')).toMatchObject({ target: 'wif-happy-sa@demo-project.iam.gserviceaccount.com', detail: `roles/iam.workloadIdentityUser for ${member}` });
    expect(await resourceState(provider)).toBe('ACTIVE');
    expect(await workloadIdentityUsers('wif-happy-sa@demo-project.iam.gserviceaccount.com')).toEqual([member]);
  });

  it('when its cutover is rejected, then the binding, the provider and the pool keyless made are removed, newest first; a re-run undeletes the reserved ids and completes', async () => {
    // Its own pool, so that rollback can delete a pool keyless created (the shared `keyless` pool is the first test's).
    const spec = bench.spec('wif-again', { runtime: { kind: 'github-actions', ...REPOSITORY, pool: 'keyless-again' } });
    const pool = `${POOL}/keyless-again`;
    const provider = `${pool}/providers/wif-again`;
    const first = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('federated-rollback', await handle.fetchHistory());
      return done;
    });
    expect(first.outcome).toBe('rolled-back');
    const undone = first.mutations.filter((m) => m.approvedBy === 'carol@example.com').map((m) => m.kind);
    expect(undone).toEqual(['workload-identity-user-removed', 'workload-identity-provider-deleted', 'workload-identity-pool-deleted', 'role-removed', 'account-deleted', 'key-restored']);
    expect(first.mutations.filter((m) => m.kind.startsWith('workload-identity') && m.kind.endsWith('created')).every((m) => m.undoneAt)).toBe(true);
    expect(await resourceState(provider)).toBe('DELETED');
    expect(await resourceState(pool)).toBe('DELETED');

    const second = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await approveBoth(bench, handle);
      return (await handle.result()) as MigrationResult;
    });
    expect(second.outcome).toBe('completed');
    expect(second.mutations.filter((m) => m.kind === 'workload-identity-pool-created' || m.kind === 'workload-identity-provider-created').map((m) => m.detail)).toEqual([
      expect.stringMatching(/undeleted \(its id was still reserved\)$/),
      expect.stringMatching(/undeleted \(its id was still reserved\)$/),
    ]);
    expect(second.workloadIdentity?.verified).toBe('chain');
    expect(await resourceState(provider)).toBe('ACTIVE');
    recordScenario({
      scenario: 'federated runtime: rollback, then a re-run',
      runs: 2,
      outcome: 'rollback removed the binding, the provider and the pool keyless made, newest first; the re-run undeleted the reserved ids, walked the runner path again and completed',
    });
  });
});

describe('given a pipeline whose job runs as a Cloud Run job', () => {
  it("when it migrates and its cutover is rejected, then it adopted the job's own account, and rollback takes back only what keyless granted", async () => {
    const spec = { ...bench.spec('run-job', { runtime: { kind: 'google', cloudRunJob: { name: 'nightly', location: 'us-central1' } } }), serviceAccount: undefined };
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const waiting = await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      expect(waiting.mutations.find((m) => m.kind === 'role-granted')?.detail).toBe(`roles/aiplatform.user for serviceAccount:${CLOUD_RUN_ACCOUNT}`);
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(kinds(result)).not.toContain('account-created');
    expect(kinds(result)).not.toContain('account-deleted');
    // The token-creator grant was already taken back after the dual-run; rollback undoes the rest.
    expect(result.mutations.filter((m) => m.approvedBy !== 'carol@example.com').map((m) => m.kind)).toContain('token-creator-removed');
    expect(result.mutations.filter((m) => m.approvedBy === 'carol@example.com').map((m) => m.kind)).toEqual(['role-removed', 'key-restored']);
    const account = await bench.cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/demo-project/serviceAccounts/${CLOUD_RUN_ACCOUNT}` });
    expect(account.data.email).toBe(CLOUD_RUN_ACCOUNT);
    recordScenario({ scenario: 'google runtime (Cloud Run job), cutover rejected', runs: 1, outcome: "adopted the job's own account; the token-creator grant taken back after the dual-run, rollback took back the Vertex role, never the account" });
  });
});
