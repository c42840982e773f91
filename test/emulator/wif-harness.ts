// An estate for the Workload Identity Federation tests: a pool with GitHub and GitLab providers
// pinned to numeric ids, a pipeline account that a GitHub repository may impersonate, one that
// nobody may, and the demo models so Vertex answers.
import { startEmulator, type FixtureInput, type GithubRunner, type RunningEmulator } from '../../emulator/index';
import { demoModels } from '../../emulator/model/fixture';

export const PROJECT = 'demo-project';
export const PROJECT_NUMBER = '480213697513';
export const POOL = `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/keyless`;
export const GITHUB_PROVIDER = `${POOL}/providers/nightly-gh`;
export const GITLAB_PROVIDER = `${POOL}/providers/triage-gl`;
export const DISABLED_PROVIDER = `${POOL}/providers/retired-gh`;
export const RUNNER_SA = `nightly-runner@${PROJECT}.iam.gserviceaccount.com`;
export const RUNNER_UNIQUE_ID = '100000000000000007001';
export const UNBOUND_SA = `unbound-runner@${PROJECT}.iam.gserviceaccount.com`;
export const REPOSITORY = { repository: 'octo-org/nightly-summarizer', repositoryId: '74', repositoryOwnerId: '65' } as const;
export const GITLAB_PROJECT = { projectPath: 'acme/ops/ticket-triage', projectId: '42' } as const;
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

const githubMapping = {
  'google.subject': 'assertion.sub',
  'attribute.repository_id': 'assertion.repository_id',
  'attribute.repository_owner_id': 'assertion.repository_owner_id',
  'attribute.ref': 'assertion.ref',
};

export function wifFixture(): FixtureInput {
  const repositoryMember = `principalSet://iam.googleapis.com/${POOL}/attribute.repository_id/${REPOSITORY.repositoryId}`;
  return {
    projects: [{ id: PROJECT, number: PROJECT_NUMBER, iamPolicy: { bindings: [{ role: 'roles/owner', members: ['user:operator@example.com'] }] } }],
    serviceAccounts: [
      {
        project: PROJECT,
        accountId: 'nightly-runner',
        uniqueId: RUNNER_UNIQUE_ID,
        roles: ['roles/aiplatform.user'],
        iamPolicy: { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: [repositoryMember] }] },
      },
      { project: PROJECT, accountId: 'unbound-runner', roles: ['roles/aiplatform.user'] },
      { project: PROJECT, accountId: 'auditor', roles: ['roles/monitoring.viewer'] },
    ],
    workloadIdentityPools: [
      {
        project: PROJECT,
        poolId: 'keyless',
        displayName: 'keyless',
        providers: [
          {
            providerId: 'nightly-gh',
            attributeMapping: githubMapping,
            attributeCondition: `assertion.repository_id == '${REPOSITORY.repositoryId}' && assertion.repository_owner_id == '${REPOSITORY.repositoryOwnerId}'`,
            oidc: { issuerUri: 'https://token.actions.githubusercontent.com' },
          },
          {
            providerId: 'triage-gl',
            attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.project_id': 'assertion.project_id' },
            attributeCondition: `assertion.project_id == '${GITLAB_PROJECT.projectId}'`,
            oidc: { issuerUri: 'https://gitlab.com', allowedAudiences: ['https://gitlab.com'] },
          },
          { providerId: 'retired-gh', disabled: true, attributeMapping: githubMapping, oidc: { issuerUri: 'https://token.actions.githubusercontent.com' } },
        ],
      },
    ],
    models: demoModels,
  };
}

export async function startWifEmulator(): Promise<RunningEmulator> {
  return startEmulator({ fixture: wifFixture() });
}

/** POSTs a token exchange to the emulator's STS the way google-auth does (form-encoded). */
export async function exchange(emu: RunningEmulator, subjectToken: string, audience = `//iam.googleapis.com/${GITHUB_PROVIDER}`): Promise<{ status: number; body: any }> {
  const res = await fetch(emu.stsTokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience,
      scope: CLOUD_PLATFORM,
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    }),
  });
  return { status: res.status, body: await res.json() };
}

/** The default audience GitHub's auth action asks for: the provider, https. */
export const githubAudience = (provider = GITHUB_PROVIDER) => `https://iam.googleapis.com/${provider}`;

/** What google-github-actions/auth writes for a job, with the emulator's endpoints. */
export function githubActionsConfig(emu: RunningEmulator, runner: GithubRunner, account: string) {
  return {
    type: 'external_account',
    audience: `//iam.googleapis.com/${GITHUB_PROVIDER}`,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: emu.stsTokenUrl,
    service_account_impersonation_url: emu.impersonationUrlFor(account),
    credential_source: {
      url: `${runner.ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${encodeURIComponent(githubAudience())}`,
      headers: { Authorization: `bearer ${runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
      format: { type: 'json', subject_token_field_name: 'value' },
    },
  };
}

/** Vertex calls Cloud Monitoring counts under an account (`serviceaccount:<uniqueId>`), by response code. */
export async function vertexCallsOf(emu: RunningEmulator, uniqueId: string): Promise<Record<string, number>> {
  const now = Date.now();
  const params = new URLSearchParams({
    filter: `metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api" AND resource.labels.credential_id = "serviceaccount:${uniqueId}"`,
    'interval.startTime': new Date(now - 3_600_000).toISOString(),
    'interval.endTime': new Date(now + 120_000).toISOString(),
  });
  const auditor = emu.mintAccessToken(`auditor@${PROJECT}.iam.gserviceaccount.com`);
  const res = await fetch(`${emu.baseUrl}/v3/projects/${PROJECT}/timeSeries?${params}`, { headers: { authorization: `Bearer ${auditor}` } });
  const body = (await res.json()) as { timeSeries?: Array<{ metric: { labels: Record<string, string> }; points: Array<{ value: { int64Value: string } }> }> };
  const counts: Record<string, number> = {};
  for (const series of body.timeSeries ?? []) {
    const code = series.metric.labels.response_code!;
    counts[code] = (counts[code] ?? 0) + series.points.reduce((sum, p) => sum + Number(p.value.int64Value), 0);
  }
  return counts;
}
