// The identity activities against the emulator through Google's own clients: the pool and a
// pipeline's provider made from a runtime's plan (and shown by gcloud as keyless made them), a
// provider of the same id that admits other tokens refused, a pool kept while another pipeline's
// provider lives in it, the Cloud Run job's account read, and the job's path walked.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import type { KeylessActivities } from '../../contracts/activities';
import { ErrorType } from '../../contracts/errors';
import { RuntimeSchema, poolName, workloadIdentityPlan, type FederatedRuntime } from '../../contracts/runtime';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { gcloudAvailable, gcloudJson } from '../emulator/gcloud-harness';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { failureOf } from '../support/failures';

const ACCOUNT = `wif-act@${DEMO_PROJECT}.iam.gserviceaccount.com`;
const runtime = RuntimeSchema.parse({ kind: 'github-actions', repository: 'acme/nightly-jobs', repositoryId: '812345678' }) as FederatedRuntime;

let cloud: TestCloud;
let activities: KeylessActivities;
let dir: string;

beforeAll(async () => {
  cloud = await startTestCloud({
    tweak: (fixture) => {
      fixture.serviceAccounts!.push({ project: DEMO_PROJECT, accountId: 'wif-act', roles: ['roles/aiplatform.user'] });
      fixture.cloudRun = { jobs: [{ project: DEMO_PROJECT, location: 'us-central1', name: 'nightly', serviceAccount: ACCOUNT }] };
    },
  });
  activities = createActivities({ clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  dir = await mkdtemp(join(tmpdir(), 'keyless-identity-'));
  await writeFile(join(dir, 'token'), cloud.emulator.mintAccessToken(DEMO_ORCHESTRATOR, 3600));
});

afterAll(async () => {
  await cloud?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setUp(pipeline: string, poolId = 'keyless') {
  const wif = workloadIdentityPlan({ ...runtime, pool: poolId }, pipeline);
  const pool = await activities.ensureWorkloadIdentityPool({ projectNumber: DEMO_PROJECT_NUMBER, poolId, owner: `test ${pipeline}` });
  const provider = await activities.ensureWorkloadIdentityProvider({ poolName: pool.name, providerId: wif.providerId, issuer: wif.issuer, allowedAudiences: wif.allowedAudiences, attributeMapping: wif.attributeMapping, attributeCondition: wif.attributeCondition, owner: `test ${pipeline}` });
  return { wif, pool, provider };
}

describe('workload identity pools and providers', () => {
  it('given a runtime plan, makes the pool and the provider once (a retry finds them its own), and gcloud describes them as made', async () => {
    const { wif, pool, provider } = await setUp('nightly-summarizer');
    expect(pool).toEqual({ name: poolName(DEMO_PROJECT_NUMBER, 'keyless'), created: true, undeleted: false });
    expect(provider).toMatchObject({ created: true, undeleted: false });
    const again = await setUp('nightly-summarizer');
    expect([again.pool.created, again.provider.created]).toEqual([true, true]);
    expect((await activities.ensureWorkloadIdentityPool({ projectNumber: DEMO_PROJECT_NUMBER, poolId: 'keyless', owner: 'another run' })).created).toBe(false);
    if (!gcloudAvailable()) throw new Error('gcloud is not installed: the suite needs it (it is on the build machines)');
    const options = { baseUrl: cloud.emulator.baseUrl, dir, project: DEMO_PROJECT };
    const pools = await gcloudJson(options, 'iam', 'workload-identity-pools', 'list', '--location=global');
    expect(pools.map((p: { name: string }) => p.name)).toContain(pool.name);
    const described = await gcloudJson(options, 'iam', 'workload-identity-pools', 'providers', 'describe', wif.providerId, '--workload-identity-pool=keyless', '--location=global');
    expect(described).toMatchObject({ name: provider.name, state: 'ACTIVE', attributeCondition: wif.attributeCondition, oidc: { issuerUri: 'https://token.actions.githubusercontent.com' } });
  });

  it('refuses a provider of the same id that admits other tokens, naming what to do', async () => {
    const { wif, pool } = await setUp('report-digest');
    const failure = await failureOf(
      activities.ensureWorkloadIdentityProvider({ poolName: pool.name, providerId: wif.providerId, issuer: wif.issuer, allowedAudiences: [], attributeMapping: wif.attributeMapping, attributeCondition: "assertion.repository_id == '1'", owner: 'someone else' }),
    );
    expect(failure.type).toBe(ErrorType.InvalidSpec);
    expect(failure.message).toMatch(/admits other tokens.*set runtime\.provider to another id/);
  });

  it('keeps a pool keyless made while another pipeline\'s provider lives in it, and deletes it once empty', async () => {
    const first = await setUp('pool-first', 'keyless-shared');
    const second = await setUp('pool-second', 'keyless-shared');
    expect((await activities.deleteWorkloadIdentityProvider({ name: first.provider.name })).changes.map((c) => c.kind)).toEqual(['workload-identity-provider-deleted']);
    expect(await activities.deleteWorkloadIdentityPool({ name: first.pool.name })).toEqual({ changes: [], notUndone: ['workload-identity-pool-created'] });
    await activities.deleteWorkloadIdentityProvider({ name: second.provider.name });
    expect((await activities.deleteWorkloadIdentityPool({ name: first.pool.name })).changes.map((c) => c.kind)).toEqual(['workload-identity-pool-deleted']);
    // Idempotent: a compensation retried after its answer was lost changes nothing more.
    expect((await activities.deleteWorkloadIdentityPool({ name: first.pool.name })).changes.map((c) => c.kind)).toEqual(['workload-identity-pool-deleted']);
  });
});

describe('the runtime account and the job path', () => {
  it("reads a Cloud Run job's account, and refuses one of another project unless the spec says so", async () => {
    expect(await activities.resolveRuntimeAccount({ project: DEMO_PROJECT, cloudRunJob: { name: 'nightly', location: 'us-central1' }, accountInAnotherProject: false })).toMatchObject({ email: ACCOUNT, source: 'cloud-run-job', computeDefault: false });
    const missing = await failureOf(activities.resolveRuntimeAccount({ project: DEMO_PROJECT, cloudRunJob: { name: 'absent', location: 'us-central1' }, accountInAnotherProject: false }));
    expect(missing.type).toBe(ErrorType.InvalidSpec);
    const foreign = await failureOf(activities.resolveRuntimeAccount({ project: DEMO_PROJECT, serviceAccount: 'elsewhere@other-project.iam.gserviceaccount.com', accountInAnotherProject: false }));
    expect(foreign).toMatchObject({ type: ErrorType.InvalidSpec, message: expect.stringMatching(/set runtime\.accountInAnotherProject: true/) });
  });

  it('walks the job\'s path with a runner of the emulator once the binding is made, and names the broken link before', async () => {
    const { wif, provider } = await setUp('wif-act');
    const member = wif.member(DEMO_PROJECT_NUMBER);
    const input = { project: DEMO_PROJECT, location: 'global', models: ['gemini-2.5-flash'], serviceAccountEmail: ACCOUNT, runtime, providerName: provider.name, member, attributeCondition: wif.attributeCondition };
    // Before the binding (and long after any grant): impersonation is refused for good.
    const refused = await failureOf(activities.probeWorkloadIdentity({ ...input, grantedAt: '2000-01-01T00:00:00Z' }));
    expect(refused).toMatchObject({ type: ErrorType.MissingRole, message: expect.stringMatching(/^the job's path breaks at impersonation/) });
    expect((await activities.ensureWorkloadIdentityUser({ serviceAccountEmail: ACCOUNT, member })).added).toBe(true);
    expect((await activities.hasWorkloadIdentityUser({ serviceAccountEmail: ACCOUNT, member })).held).toBe(true);
    const probe = await activities.probeWorkloadIdentity(input);
    expect(probe).toMatchObject({ verified: 'chain' });
    expect(probe.checks.map((c) => `${c.check}:${c.ok}`)).toEqual(['subject-token:true', 'sts:true', 'impersonation:true', 'vertex:true']);
  });
});
