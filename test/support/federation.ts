// A federated estate for the credentials and doctor tests: the demo estate plus pipeline accounts,
// spec files with GitHub Actions, GitLab CI, google and external runtimes, the pool, providers and
// bindings made by keyless's own identity activities from each spec's plan, and the real CLI.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createActivities } from '../../activities';
import type { KeylessActivities } from '../../contracts/activities';
import { isFederated, workloadIdentityPlan } from '../../contracts/runtime';
import { pipelineAccount, validateSpec, type PipelineSpec, type PipelineSpecInput } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { startTestCloud, type TestCloud } from './cloud';

export const REPOSITORY = { repository: 'acme/nightly-jobs', repositoryId: '812345678', repositoryOwnerId: '4242', ref: 'refs/heads/main' } as const;
export const GITLAB_PROJECT = { projectPath: 'acme/ops/ticket-triage', projectId: '4711' } as const;

/** The accounts of the estate, with the uniqueIds Monitoring counts their calls under. */
export const ACCOUNTS = {
  github: { accountId: 'nightly-summarizer', uniqueId: '100000000000000008001', roles: ['roles/aiplatform.user'] },
  gitlab: { accountId: 'ticket-triage-gl', uniqueId: '100000000000000008002', roles: ['roles/aiplatform.user'] },
  unbound: { accountId: 'unbound-job', uniqueId: '100000000000000008003', roles: ['roles/aiplatform.user'] },
  noVertex: { accountId: 'no-vertex-job', uniqueId: '100000000000000008004', roles: [] as string[] },
} as const;

export const email = (accountId: string) => `${accountId}@${DEMO_PROJECT}.iam.gserviceaccount.com`;

const github = (pool = 'keyless') => ({ kind: 'github-actions' as const, ...REPOSITORY, pool });

/** The specs the tests load, by name; each pipeline's provider is its own. */
export const SPECS: Record<string, PipelineSpecInput> = {
  github: spec('nightly-summarizer', { runtime: github(), serviceAccount: { accountId: ACCOUNTS.github.accountId } }),
  gitlab: spec('ticket-triage', { runtime: { kind: 'gitlab-ci', ...GITLAB_PROJECT, ref: 'main' }, serviceAccount: { accountId: ACCOUNTS.gitlab.accountId } }),
  unbound: spec('unbound-job', { runtime: github(), serviceAccount: { accountId: ACCOUNTS.unbound.accountId } }),
  noVertex: spec('no-vertex-job', { runtime: github(), serviceAccount: { accountId: ACCOUNTS.noVertex.accountId } }),
  google: spec('cloud-run-job', { runtime: { kind: 'google', serviceAccount: email('nightly-runner') } }),
  external: spec('plain-job', { serviceAccount: { accountId: 'plain-job' } }),
};

function spec(pipeline: string, overrides: Partial<PipelineSpecInput>): PipelineSpecInput {
  return {
    pipeline,
    project: DEMO_PROJECT,
    apiKey: `projects/${DEMO_PROJECT}/locations/global/keys/${pipeline}`,
    vertex: { location: 'us-central1', models: ['gemini-2.5-flash'] },
    ...overrides,
  } as PipelineSpecInput;
}

export interface FederationEstate {
  cloud: TestCloud;
  activities: KeylessActivities;
  dir: string;
  /** Path of each spec file. */
  specPaths: Record<keyof typeof SPECS, string>;
  parsed(name: keyof typeof SPECS): PipelineSpec;
  /** The orchestrator's ADC settings (KEYLESS_EMULATOR, GCE_METADATA_HOST, GOOGLE_CLOUD_PROJECT). */
  orchestratorEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the emulator and makes, through the identity activities, the pool, providers and bindings of the specs in `federate`. */
export async function startFederationEstate(federate: { spec: keyof typeof SPECS; bind: boolean }[]): Promise<FederationEstate> {
  const cloud = await startTestCloud({
    tweak: (fixture) => {
      for (const account of Object.values(ACCOUNTS)) fixture.serviceAccounts!.push({ project: DEMO_PROJECT, accountId: account.accountId, uniqueId: account.uniqueId, roles: [...account.roles] });
    },
  });
  const activities = createActivities({ clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  const dir = await mkdtemp(join(tmpdir(), 'keyless-federation-'));
  const specPaths = {} as Record<keyof typeof SPECS, string>;
  for (const [name, input] of Object.entries(SPECS)) {
    specPaths[name] = join(dir, `${name}.yaml`);
    await writeFile(specPaths[name], stringify(input));
  }
  const parsed = (name: keyof typeof SPECS) => {
    const result = validateSpec(SPECS[name]);
    if (!result.ok) throw new Error(`spec ${name}: ${JSON.stringify(result.problems)}`);
    return result.spec;
  };
  for (const { spec: name, bind } of federate) {
    const pipelineSpec = parsed(name);
    if (!isFederated(pipelineSpec.runtime)) throw new Error(`spec ${name} is not federated`);
    const wif = workloadIdentityPlan(pipelineSpec.runtime, pipelineSpec.pipeline);
    const pool = await activities.ensureWorkloadIdentityPool({ projectNumber: DEMO_PROJECT_NUMBER, poolId: wif.poolId, owner: `test ${name}` });
    await activities.ensureWorkloadIdentityProvider({ poolName: pool.name, providerId: wif.providerId, issuer: wif.issuer, allowedAudiences: wif.allowedAudiences, attributeMapping: wif.attributeMapping, attributeCondition: wif.attributeCondition, owner: `test ${name}` });
    if (bind) await activities.ensureWorkloadIdentityUser({ serviceAccountEmail: pipelineAccount(pipelineSpec).email!, member: wif.member(DEMO_PROJECT_NUMBER) });
  }
  const orchestratorEnv = await cloud.emulator.envFor(DEMO_ORCHESTRATOR);
  return {
    cloud,
    activities,
    dir,
    specPaths,
    parsed,
    orchestratorEnv,
    async stop() {
      await cloud.clients.apiKeys.close().catch(() => undefined);
      await cloud.clients.monitoring.close().catch(() => undefined);
      await cloud.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const bin = fileURLToPath(new URL('../../bin/keyless', import.meta.url));

/** The environment of the suite, without the switches that would hide the emulator's metadata server or point ADC elsewhere. */
export function cleanEnv(): Record<string, string> {
  const { METADATA_SERVER_DETECTION: _detection, GOOGLE_APPLICATION_CREDENTIALS: _adc, ACTIONS_ID_TOKEN_REQUEST_URL: _url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: _token, ...rest } = process.env;
  return Object.fromEntries(Object.entries(rest).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Runs the real `keyless` command with exactly `env` (plus PATH and HOME from the suite). */
export function keyless(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env: { ...cleanEnv(), TEMPORAL_ADDRESS: '127.0.0.1:1', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Vertex calls Cloud Monitoring counts under an account (`serviceaccount:<uniqueId>`), by response code, read as the orchestrator (monitoring.viewer). */
export async function vertexCallsOf(estate: FederationEstate, uniqueId: string): Promise<Record<string, number>> {
  const now = Date.now();
  const params = new URLSearchParams({
    filter: `metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api" AND resource.labels.credential_id = "serviceaccount:${uniqueId}"`,
    'interval.startTime': new Date(now - 3_600_000).toISOString(),
    'interval.endTime': new Date(now + 120_000).toISOString(),
  });
  const token = estate.cloud.emulator.mintAccessToken(DEMO_ORCHESTRATOR);
  const res = await fetch(`${estate.cloud.emulator.baseUrl}/v3/projects/${DEMO_PROJECT}/timeSeries?${params}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { timeSeries?: { metric: { labels: Record<string, string> }; points: { value: { int64Value: string } }[] }[] };
  const counts: Record<string, number> = {};
  for (const series of body.timeSeries ?? []) {
    const code = series.metric.labels.response_code!;
    counts[code] = (counts[code] ?? 0) + series.points.reduce((sum, p) => sum + Number(p.value.int64Value), 0);
  }
  return counts;
}
