// Careless input: a table of malformed specs, each refused with an error that names the field
// (and never echoes a pasted key string), before anything is started or changed.

import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec } from '../../client/spec-file';
import { UserError } from '../../client/errors';
import { recordScenario } from '../support/scenarios';

const good = {
  pipeline: 'nightly-summarizer',
  project: 'demo-project',
  apiKey: 'projects/demo-project/locations/global/keys/nightly-summarizer',
  serviceAccount: { accountId: 'nightly-summarizer' },
  vertex: { models: ['gemini-2.5-flash'] },
};

const github = { kind: 'github-actions', repository: 'acme/nightly-jobs', repositoryId: '812345678' };

const KEY_STRING = `AIza${'SyD3adB33fC0ffee0123456789abcdefghi'}`;
type Case = [string, unknown, string];
const without = (field: keyof typeof good) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== field));

const CASES: Case[] = [
  ['missing pipeline', without('pipeline'), 'pipeline'],
  ['missing project', without('project'), 'project'],
  ['missing apiKey', without('apiKey'), 'apiKey'],
  ['missing serviceAccount', without('serviceAccount'), 'serviceAccount'],
  ['missing vertex', without('vertex'), 'vertex'],
  ['pipeline not a string', { ...good, pipeline: 42 }, 'pipeline'],
  ['pipeline uppercase', { ...good, pipeline: 'Nightly' }, 'pipeline'],
  ['pipeline with spaces', { ...good, pipeline: 'nightly job' }, 'pipeline'],
  ['pipeline too long', { ...good, pipeline: `a${'b'.repeat(70)}` }, 'pipeline'],
  ['project too short', { ...good, project: 'demo' }, 'project'],
  ['project with underscore', { ...good, project: 'demo_project' }, 'project'],
  ['project as number', { ...good, project: 123456 }, 'project'],
  ['key string pasted as apiKey', { ...good, apiKey: KEY_STRING }, 'apiKey'],
  ['auth key string pasted as apiKey', { ...good, apiKey: ['AQ', 'Ab8RN6Lq0aBcDeFgHiJkLmNoPqRsTuVwXyZ'].join('.') }, 'apiKey'],
  ['apiKey without locations', { ...good, apiKey: 'projects/demo-project/keys/abc' }, 'apiKey'],
  ['apiKey as URL', { ...good, apiKey: 'https://apikeys.googleapis.com/v2/projects/p/locations/global/keys/k' }, 'apiKey'],
  ['apiKey empty', { ...good, apiKey: '' }, 'apiKey'],
  ['accountId too short', { ...good, serviceAccount: { accountId: 'abc' } }, 'serviceAccount.accountId'],
  ['accountId too long', { ...good, serviceAccount: { accountId: 'a'.repeat(31) } }, 'serviceAccount.accountId'],
  ['accountId starts with digit', { ...good, serviceAccount: { accountId: '1pipeline' } }, 'serviceAccount.accountId'],
  ['accountId ends with hyphen', { ...good, serviceAccount: { accountId: 'pipeline-' } }, 'serviceAccount.accountId'],
  ['accountId uppercase', { ...good, serviceAccount: { accountId: 'Pipeline' } }, 'serviceAccount.accountId'],
  ['accountId is an email', { ...good, serviceAccount: { accountId: 'sa@demo-project.iam.gserviceaccount.com' } }, 'serviceAccount.accountId'],
  ['serviceAccount.create not boolean', { ...good, serviceAccount: { accountId: 'nightly-summarizer', create: 'yes' } }, 'serviceAccount.create'],
  ['unknown field in serviceAccount', { ...good, serviceAccount: { accountId: 'nightly-summarizer', email: 'x' } }, 'serviceAccount'],
  ['no models', { ...good, vertex: { models: [] } }, 'vertex.models'],
  ['model with spaces', { ...good, vertex: { models: ['gemini 2.5'] } }, 'vertex.models[0]'],
  ['models not a list', { ...good, vertex: { models: 'gemini-2.5-flash' } }, 'vertex.models'],
  ['location with uppercase', { ...good, vertex: { models: ['gemini-2.5-flash'], location: 'US-CENTRAL1' } }, 'vertex.location'],
  ['unknown top-level field', { ...good, owner: 'team-a' }, '(spec)'],
  ['stopgap as string', { ...good, stopgap: 'false' }, 'stopgap'],
  ['canary steps empty', { ...good, canary: { steps: [] } }, 'canary.steps'],
  ['canary step percent 0', { ...good, canary: { steps: [{ percent: 0, bake: '1h' }, { percent: 100, bake: '1h' }] } }, 'canary.steps[0].percent'],
  ['canary step percent over 100', { ...good, canary: { steps: [{ percent: 150, bake: '1h' }] } }, 'canary.steps[0].percent'],
  ['canary step percent fractional', { ...good, canary: { steps: [{ percent: 12.5, bake: '1h' }, { percent: 100, bake: '1h' }] } }, 'canary.steps[0].percent'],
  ['canary steps falling', { ...good, canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 20, bake: '1h' }, { percent: 100, bake: '1h' }] } }, 'canary.steps[1].percent'],
  ['canary steps not ending at 100', { ...good, canary: { steps: [{ percent: 10, bake: '1h' }, { percent: 50, bake: '1h' }] } }, 'canary.steps[1].percent'],
  ['canary steps repeating', { ...good, canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 50, bake: '1h' }, { percent: 100, bake: '1h' }] } }, 'canary.steps[1].percent'],
  ['bake in words', { ...good, canary: { steps: [{ percent: 100, bake: 'one hour' }] } }, 'canary.steps[0].bake'],
  ['bake as number', { ...good, canary: { steps: [{ percent: 100, bake: 3600 }] } }, 'canary.steps[0].bake'],
  ['bake with unknown unit', { ...good, canary: { steps: [{ percent: 100, bake: '2w' }] } }, 'canary.steps[0].bake'],
  ['bake negative', { ...good, canary: { steps: [{ percent: 100, bake: '-5m' }] } }, 'canary.steps[0].bake'],
  ['maxErrorRateDelta over 1', { ...good, canary: { maxErrorRateDelta: 5 } }, 'canary.maxErrorRateDelta'],
  ['minRequests negative', { ...good, canary: { minRequests: -1 } }, 'canary.minRequests'],
  ['step minRequests fractional', { ...good, canary: { steps: [{ percent: 100, bake: '1h', minRequests: 2.5 }] } }, 'canary.steps[0].minRequests'],
  ['step with neither bake nor evidence', { ...good, canary: { minRequests: 0, steps: [{ percent: 100 }] } }, 'canary.steps[0].bake'],
  ['step maxBake shorter than its bake', { ...good, canary: { steps: [{ percent: 100, bake: '2h', maxBake: '1h' }] } }, 'canary.steps[0].maxBake'],
  ['maxBake bad', { ...good, canary: { maxBake: 'a week' } }, 'canary.maxBake'],
  ['maxLatencyRatio below 1', { ...good, canary: { maxLatencyRatio: 0.8 } }, 'canary.maxLatencyRatio'],
  ['soak minVertexRequests negative', { ...good, soak: { minVertexRequests: -2 } }, 'soak.minVertexRequests'],
  ['analysisInterval bad', { ...good, canary: { analysisInterval: 'often' } }, 'canary.analysisInterval'],
  ['soak duration bad', { ...good, soak: { duration: '1 day' } }, 'soak.duration'],
  ['route store http', { ...good, route: { store: 'http://example.com/routes' } }, 'route.store'],
  ['route store bucket uppercase', { ...good, route: { store: 'gs://My_Bucket' } }, 'route.store'],
  ['finalize action unknown', { ...good, finalize: { action: 'revoke' } }, 'finalize.action'],
  ['restrict-ip without IPs', { ...good, finalize: { action: 'restrict-ip' } }, 'finalize.allowedIps'],
  ['allowedIps with a hostname', { ...good, finalize: { action: 'restrict-ip', allowedIps: ['runner.example.com'] } }, 'finalize.allowedIps[0]'],
  ['rollbackWindow bad', { ...good, finalize: { rollbackWindow: 'a while' } }, 'finalize.rollbackWindow'],
  ['approvers empty list', { ...good, approvals: { approvers: [] } }, 'approvals.approvers'],
  ['approver empty string', { ...good, approvals: { approvers: [''] } }, 'approvals.approvers[0]'],
  ['onDeadline unknown', { ...good, approvals: { onDeadline: 'ignore' } }, 'approvals.onDeadline'],
  ['deadline bad', { ...good, approvals: { deadline: 'friday' } }, 'approvals.deadline'],
  ['dual-run prompt empty', { ...good, dualRun: { prompts: [{ text: '' }] } }, 'dualRun.prompts[0].text'],
  ['dual-run samples zero', { ...good, dualRun: { samples: 0 } }, 'dualRun.samples'],
  ['dual-run too many calls', { ...good, vertex: { models: ['a', 'b', 'c', 'd', 'e'] }, dualRun: { prompts: Array.from({ length: 20 }, (_, i) => ({ text: `p${i}` })), samples: 20 } }, 'dualRun.samples'],
  ['threshold over 1', { ...good, dualRun: { thresholds: { minSimilarity: 1.5 } } }, 'dualRun.thresholds.minSimilarity'],
  ['runtime kind unknown', { ...good, runtime: { kind: 'jenkins' } }, 'runtime.kind'],
  ['github repository without owner', { ...good, runtime: { ...github, repository: 'nightly-jobs' } }, 'runtime.repository'],
  ['github repository as URL', { ...good, runtime: { ...github, repository: 'https://github.com/acme/nightly-jobs' } }, 'runtime.repository'],
  ['github repositoryId missing', { ...good, runtime: { kind: 'github-actions', repository: 'acme/nightly-jobs' } }, 'runtime.repositoryId'],
  ['github repositoryId not numeric', { ...good, runtime: { ...github, repositoryId: 'acme-nightly' } }, 'runtime.repositoryId'],
  ['github repositoryOwnerId not numeric', { ...good, runtime: { ...github, repositoryOwnerId: 'acme' } }, 'runtime.repositoryOwnerId'],
  ['github ref not a full ref', { ...good, runtime: { ...github, ref: 'main' } }, 'runtime.ref'],
  ['unknown field in github runtime', { ...good, runtime: { ...github, branch: 'main' } }, 'runtime'],
  ['provider id too short', { ...good, runtime: { ...github, provider: 'gh' } }, 'runtime.provider'],
  ['provider id with uppercase', { ...good, runtime: { ...github, provider: 'Nightly-GH' } }, 'runtime.provider'],
  ['provider id too long', { ...good, runtime: { ...github, provider: 'p'.repeat(33) } }, 'runtime.provider'],
  ['provider id with the reserved prefix', { ...good, runtime: { ...github, provider: 'gcp-nightly' } }, 'runtime.provider'],
  ['pool id with the reserved prefix', { ...good, runtime: { ...github, pool: 'gcp-pool' } }, 'runtime.pool'],
  ['gitlab projectId missing', { ...good, runtime: { kind: 'gitlab-ci', projectPath: 'acme/jobs/nightly' } }, 'runtime.projectId'],
  ['gitlab projectPath without group', { ...good, runtime: { kind: 'gitlab-ci', projectPath: 'nightly', projectId: '42' } }, 'runtime.projectPath'],
  ['gitlab issuer over http', { ...good, runtime: { kind: 'gitlab-ci', projectPath: 'acme/nightly', projectId: '42', issuer: 'http://gitlab.internal' } }, 'runtime.issuer'],
  ['oidc issuer over http', { ...good, runtime: { kind: 'oidc', issuer: 'http://oidc.example.com', audiences: ['keyless'], subject: 'system:serviceaccount:jobs:nightly' } }, 'runtime.issuer'],
  ['oidc audiences empty', { ...good, runtime: { kind: 'oidc', issuer: 'https://oidc.example.com', audiences: [], subject: 'system:serviceaccount:jobs:nightly' } }, 'runtime.audiences'],
  ['oidc pinning nothing', { ...good, runtime: { kind: 'oidc', issuer: 'https://oidc.example.com', audiences: ['keyless'] } }, 'runtime.claims'],
  ['oidc admitting every GitHub repository', { ...good, runtime: { kind: 'oidc', issuer: 'https://token.actions.githubusercontent.com', audiences: ['keyless'], claims: { repository: 'acme/nightly-jobs' } } }, 'runtime.claims'],
  ['oidc admitting every gitlab.com project', { ...good, runtime: { kind: 'oidc', issuer: 'https://gitlab.com', audiences: ['keyless'], subject: 'project_path:acme/nightly:ref_type:branch:ref:main' } }, 'runtime.claims'],
  ['google runtime naming no account', { ...without('serviceAccount'), runtime: { kind: 'google' } }, 'runtime.serviceAccount'],
  ['google runtime naming an account of another project', { ...without('serviceAccount'), runtime: { kind: 'google', serviceAccount: 'nightly@other-project.iam.gserviceaccount.com' } }, 'runtime.serviceAccount'],
  ['google runtime with its own serviceAccount section', { ...good, runtime: { kind: 'google', serviceAccount: 'nightly@demo-project.iam.gserviceaccount.com' } }, 'serviceAccount'],
  ['google runtime with a bad Cloud Run job name', { ...without('serviceAccount'), runtime: { kind: 'google', cloudRunJob: { name: 'Nightly Job', location: 'us-central1' } } }, 'runtime.cloudRunJob.name'],
  ['a key of another project', { ...good, apiKey: 'projects/other-project/locations/global/keys/nightly-summarizer' }, 'apiKey'],
  ['bake longer than a week', { ...good, canary: { steps: [{ percent: 100, bake: '3000d' }] } }, 'canary.steps[0].bake'],
  ['analysisInterval longer than a day', { ...good, canary: { analysisInterval: '25h' } }, 'canary.analysisInterval'],
  ['soak longer than 30 days', { ...good, soak: { duration: '31d' } }, 'soak.duration'],
  ['rollbackWindow past the 30-day undelete', { ...good, finalize: { action: 'delete', rollbackWindow: '45d' } }, 'finalize.rollbackWindow'],
  ['approval deadline longer than 30 days', { ...good, approvals: { deadline: '90d' } }, 'approvals.deadline'],
  ['key string pasted into a prompt', { ...good, dualRun: { prompts: [{ text: `summarise this, key ${KEY_STRING}` }] } }, 'dualRun.prompts[0].text'],
  ['key string pasted into a system prompt', { ...good, dualRun: { prompts: [{ text: 'hello', system: KEY_STRING }] } }, 'dualRun.prompts[0].system'],
  ['key string in expectContains', { ...good, dualRun: { prompts: [{ text: 'hello', expectContains: [KEY_STRING] }] } }, 'dualRun.prompts[0].expectContains[0]'],
  ['key string as the account display name', { ...good, serviceAccount: { accountId: 'nightly-summarizer', displayName: `key ${KEY_STRING}` } }, 'serviceAccount.displayName'],
  ['spec is a list', [good], '(spec)'],
  ['spec is a string', 'nightly-summarizer', '(spec)'],
  ['spec is null', null, '(spec)'],
];

let refused = 0;

afterAll(() => {
  // Only a table that was refused in full is a proved scenario.
  if (refused === CASES.length) {
    recordScenario({ scenario: 'malformed specs', runs: CASES.length, outcome: `${refused} of ${CASES.length} refused before any workflow starts, each naming its field; no key string echoed` });
  }
});

describe('malformed specs', () => {
  it('covers at least 50 distinct mistakes', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES)('%s: refused, naming %s', (_name, input, field) => {
    let error: unknown;
    try {
      checkSpec(input, 'spec.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as UserError).message;
    expect(message).toMatch(/^spec spec\.yaml is invalid:/);
    const fields = message.split('\n').slice(1).map((line) => line.trim().split(': ')[0]);
    expect(fields).toContain(field);
    expect(message).not.toContain(KEY_STRING);
    expect(message).not.toContain('AQ.Ab8RN6');
    refused++;
  });

  it('accepts the well-formed spec the table starts from, and each runtime kind written well', () => {
    expect(checkSpec(good, 'spec.yaml').pipeline).toBe('nightly-summarizer');
    expect(checkSpec(good, 'spec.yaml').runtime).toEqual({ kind: 'external' });
    expect(checkSpec({ ...good, runtime: { ...github, repositoryOwnerId: 99, ref: 'refs/heads/main' } }, 'spec.yaml').runtime).toMatchObject({ repositoryId: '812345678', repositoryOwnerId: '99', pool: 'keyless' });
    expect(checkSpec({ ...good, runtime: { kind: 'gitlab-ci', projectPath: 'acme/jobs/nightly', projectId: 42 } }, 'spec.yaml').runtime).toMatchObject({ projectId: '42', issuer: 'https://gitlab.com' });
    expect(checkSpec({ ...good, runtime: { kind: 'oidc', issuer: 'https://token.actions.githubusercontent.com', audiences: ['keyless'], claims: { repository_id: '812345678' } } }, 'spec.yaml').runtime.kind).toBe('oidc');
    expect(checkSpec({ ...without('serviceAccount'), runtime: { kind: 'google', cloudRunJob: { name: 'nightly', location: 'us-central1' } } }, 'spec.yaml').serviceAccount).toBeUndefined();
    expect(checkSpec({ ...without('serviceAccount'), runtime: { kind: 'google', serviceAccount: 'nightly@other-project.iam.gserviceaccount.com', accountInAnotherProject: true } }, 'spec.yaml').runtime.kind).toBe('google');
  });
});
