// The Workload Identity Federation keyless derives from a runtime: the provider admits only the
// pinned job (checked with the emulator's own CEL and federation code, as STS applies them), the
// member bound on the account is the runtime's, and ids fit Google's rules.

import { describe, expect, it } from 'vitest';
import { attributeConditionProblem, attributeMappingProblem, federate, federatedMembers, wifIdProblem } from '../../emulator/core/workload-identity';
import { RuntimeSchema, defaultProviderId, poolName, workloadIdentityPlan, type FederatedRuntime } from '../../contracts/runtime';

const NUMBER = '480213697513';
const runtime = (input: unknown) => RuntimeSchema.parse(input) as FederatedRuntime;

function admits(plan: ReturnType<typeof workloadIdentityPlan>, claims: Record<string, unknown>): boolean {
  try {
    federate({ attributeMapping: plan.attributeMapping, attributeCondition: plan.attributeCondition }, claims);
    return true;
  } catch {
    return false;
  }
}

describe('a github-actions runtime', () => {
  const plan = workloadIdentityPlan(runtime({ kind: 'github-actions', repository: 'acme/nightly-jobs', repositoryId: '812345678', repositoryOwnerId: '4242', ref: 'refs/heads/main' }), 'nightly-summarizer');
  const job = { sub: 'repo:acme/nightly-jobs:ref:refs/heads/main', repository: 'acme/nightly-jobs', repository_id: '812345678', repository_owner_id: '4242', ref: 'refs/heads/main' };

  it('pins the numeric repository and owner ids and the ref, and nothing looser', () => {
    expect(plan.attributeCondition).toBe("assertion.repository_id == '812345678' && assertion.repository_owner_id == '4242' && assertion.ref == 'refs/heads/main'");
    expect(attributeConditionProblem(plan.attributeCondition)).toBeUndefined();
    expect(attributeMappingProblem(plan.attributeMapping)).toBeUndefined();
    expect(plan.issuer).toBe('https://token.actions.githubusercontent.com');
  });

  it('admits the pinned job, and refuses a namesake repository, another owner and another ref', () => {
    expect(admits(plan, job)).toBe(true);
    expect(admits(plan, { ...job, repository_id: '999' })).toBe(false);
    expect(admits(plan, { ...job, repository_owner_id: '1' })).toBe(false);
    expect(admits(plan, { ...job, ref: 'refs/heads/feature' })).toBe(false);
  });

  it('binds the account for the repository id, a member the admitted job holds', () => {
    const member = plan.member(NUMBER);
    expect(member).toBe(`principalSet://iam.googleapis.com/projects/${NUMBER}/locations/global/workloadIdentityPools/keyless/attribute.repository_id/812345678`);
    const mapped = federate({ attributeMapping: plan.attributeMapping, attributeCondition: plan.attributeCondition }, job);
    expect(federatedMembers(poolName(NUMBER, 'keyless'), mapped)).toContain(member);
  });
});

describe('a gitlab-ci runtime', () => {
  it('pins the numeric project id and binds its principal set', () => {
    const plan = workloadIdentityPlan(runtime({ kind: 'gitlab-ci', projectPath: 'acme/jobs/triage', projectId: 42 }), 'ticket-triage');
    expect(plan.attributeCondition).toBe("assertion.project_id == '42'");
    expect(admits(plan, { sub: 'project_path:acme/jobs/triage:ref_type:branch:ref:main', project_path: 'acme/jobs/triage', project_id: '42' })).toBe(true);
    expect(admits(plan, { sub: 'project_path:acme/jobs/triage:ref_type:branch:ref:main', project_path: 'acme/jobs/triage', project_id: '43' })).toBe(false);
    expect(plan.member(NUMBER)).toMatch(/\/attribute\.project_id\/42$/);
  });
});

describe('an oidc runtime', () => {
  it('pins the subject exactly, quoting it as a CEL string, and binds that one principal', () => {
    const subject = "system:serviceaccount:jobs:nightly's";
    const plan = workloadIdentityPlan(runtime({ kind: 'oidc', issuer: 'https://k8s.example.com', audiences: ['keyless'], subject }), 'nightly');
    expect(attributeConditionProblem(plan.attributeCondition)).toBeUndefined();
    expect(admits(plan, { sub: subject })).toBe(true);
    expect(admits(plan, { sub: 'system:serviceaccount:jobs:other' })).toBe(false);
    expect(plan.member(NUMBER)).toBe(`principal://iam.googleapis.com/projects/${NUMBER}/locations/global/workloadIdentityPools/keyless/subject/${subject}`);
    expect(plan.allowedAudiences).toEqual(['keyless']);
  });
});

describe('provider ids', () => {
  it("are the pipeline's name when Google allows it, else a shortened name with a stable hash", () => {
    expect(defaultProviderId('nightly-summarizer')).toBe('nightly-summarizer');
    const long = defaultProviderId('a-very-long-pipeline-name-for-the-weekly-export');
    expect(long).toHaveLength(32);
    expect(long).toBe(defaultProviderId('a-very-long-pipeline-name-for-the-weekly-export'));
    expect(long).not.toBe(defaultProviderId('a-very-long-pipeline-name-for-the-weekly-exports'));
    for (const pipeline of ['ab', 'gcp-runner', 'nightly', 'a-very-long-pipeline-name-for-the-weekly-export', `x${'y'.repeat(61)}z`]) {
      expect(wifIdProblem('provider', defaultProviderId(pipeline)), pipeline).toBeUndefined();
    }
  });
});
