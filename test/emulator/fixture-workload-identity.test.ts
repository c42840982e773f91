// Fixture validation of the Workload Identity Federation and Cloud Run fields: each error names the
// path of the offending value and says what Google would refuse.
import { describe, expect, it } from 'vitest';
import { FixtureError, parseFixture, type FixtureInput } from '../../emulator/index';

const base: FixtureInput = { projects: [{ id: 'demo-project', number: '480213697513' }] };
const provider = { providerId: 'github', attributeMapping: { 'google.subject': 'assertion.sub' }, oidc: { issuerUri: 'https://token.actions.githubusercontent.com' } };

function issuesOf(input: Partial<FixtureInput>): string[] {
  try {
    parseFixture({ ...base, ...input });
  } catch (err) {
    if (err instanceof FixtureError) return err.issues;
    throw err;
  }
  return [];
}

describe('fixture: workload identity and Cloud Run', () => {
  it('accepts a pool with an OIDC provider, a custom issuer and a Cloud Run job', () => {
    expect(
      issuesOf({
        workloadIdentityPools: [{ project: 'demo-project', poolId: 'keyless', providers: [provider] }],
        oidcIssuers: [{ issuer: 'https://k8s.example.com/cluster-1' }],
        cloudRun: { jobs: [{ project: 'demo-project', location: 'us-central1', name: 'nightly' }] },
      }),
    ).toEqual([]);
  });

  it.each([
    [{ workloadIdentityPools: [{ project: 'demo-project', poolId: 'gcp-pool' }] }, /^workloadIdentityPools\[0\]\.poolId: Invalid workload identity pool ID "gcp-pool"/],
    [{ workloadIdentityPools: [{ project: 'other-project', poolId: 'keyless' }] }, /^workloadIdentityPools\[0\]\.project: unknown project other-project$/],
    [
      { workloadIdentityPools: [{ project: 'demo-project', poolId: 'keyless', providers: [{ ...provider, attributeCondition: 'assertion.sub.matches("x")' }] }] },
      /^workloadIdentityPools\[0\]\.providers\[0\]: Invalid attribute condition: .*unsupported function 'matches'/,
    ],
    [
      { workloadIdentityPools: [{ project: 'demo-project', poolId: 'keyless', providers: [{ ...provider, oidc: { issuerUri: 'http://gitlab.example.com' } }] }] },
      /^workloadIdentityPools\[0\]\.providers\[0\]: Invalid OIDC issuer URI\. The scheme must be https\.$/,
    ],
    [{ oidcIssuers: [{ issuer: 'not a url' }] }, /^oidcIssuers\[0\]\.issuer: Invalid OIDC issuer URI\.$/],
    [{ cloudRun: { jobs: [{ project: 'demo-project', location: 'us-central1', name: 'Nightly_Job' }] } }, /^cloudRun\.jobs\[0\]\.name: /],
  ])('refuses %j', (input, issue) => {
    const issues = issuesOf(input as Partial<FixtureInput>);
    expect(issues.some((i) => issue.test(i))).toBe(true);
  });
});
