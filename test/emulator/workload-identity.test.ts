// IAM v1 workload identity pools and providers through Google's own Node client (@googleapis/iam):
// LROs, reserved ids after delete, undelete, purge after 30 days, id rules, provider validation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v1beta } from '@google-cloud/iam';
import type { OAuth2Client } from 'google-auth-library';
import { CI_DEPLOYER, googleError, PROJECT, PROJECT_NUMBER, rejection, startCoreHarness, type CoreHarness } from './core-harness';

const OWNER = 'operator@example.com';
const PARENT = `projects/${PROJECT}/locations/global`;
const GITHUB = 'https://token.actions.githubusercontent.com';

let h: CoreHarness;
let owner: OAuth2Client;
let api: ReturnType<CoreHarness['iamApi']>['projects']['locations']['workloadIdentityPools'];

beforeAll(async () => {
  h = await startCoreHarness('demo');
  owner = await h.userAuth(OWNER);
  api = h.iamApi(owner).projects.locations.workloadIdentityPools;
});
afterAll(() => h.stop());

const createPool = (id: string, body: Record<string, unknown> = {}) => api.create({ parent: PARENT, workloadIdentityPoolId: id, requestBody: body });
const poolName = (id: string) => `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${id}`;
const githubProvider = (condition = "assertion.repository_id == '74'") => ({
  displayName: 'GitHub',
  attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.repository_id': 'assertion.repository_id' },
  attributeCondition: condition,
  oidc: { issuerUri: GITHUB },
});

describe('workload identity pools', () => {
  it('creates a pool as a finished operation named after it, with the project number in every name', async () => {
    const { data: op } = await createPool('ci-pool', { displayName: 'CI runners', description: 'GitHub and GitLab' });
    expect(op).toMatchObject({
      done: true,
      name: expect.stringMatching(new RegExp(`^${poolName('ci-pool')}/operations/\\w+$`)),
      metadata: { '@type': 'type.googleapis.com/google.iam.v1.WorkloadIdentityPoolOperationMetadata' },
      response: { '@type': 'type.googleapis.com/google.iam.v1.WorkloadIdentityPool', name: poolName('ci-pool'), state: 'ACTIVE' },
    });
    const { data: polled } = await api.operations.get({ name: op.name! });
    expect(polled).toEqual(op);
    const { data: pool } = await api.get({ name: `${PARENT}/workloadIdentityPools/ci-pool` });
    expect(pool).toEqual({ name: poolName('ci-pool'), displayName: 'CI runners', description: 'GitHub and GitLab', state: 'ACTIVE' });
  });

  it.each(['abc', 'a'.repeat(33), 'CI-pool', 'ci_pool', 'gcp-runners'])('refuses the pool id %j with 400 INVALID_ARGUMENT', async (id) => {
    const err = await rejection(createPool(id));
    expect(err.status).toBe(400);
    expect(googleError(err)).toMatchObject({
      status: 'INVALID_ARGUMENT',
      message: `Invalid workload identity pool ID "${id}". The ID must be 4-32 characters, and may contain the characters [a-z0-9-]. The prefix "gcp-" is reserved for use by Google, and may not be specified.`,
    });
  });

  it('keeps a deleted pool visible and its id reserved, and undeletes it', async () => {
    await createPool('doomed');
    const { data: deleted } = await api.delete({ name: `${PARENT}/workloadIdentityPools/doomed` });
    expect(deleted.response).toMatchObject({ state: 'DELETED', expireTime: expect.any(String) });
    const { data: got } = await api.get({ name: `${PARENT}/workloadIdentityPools/doomed` });
    expect(got.state).toBe('DELETED');
    const expireIn = Date.parse(got.expireTime!) - Date.now();
    expect(expireIn).toBeGreaterThan(29.9 * 86_400_000);

    const listed = (await api.list({ parent: PARENT })).data.workloadIdentityPools!.map((p) => p.name);
    expect(listed).not.toContain(poolName('doomed'));
    const withDeleted = (await api.list({ parent: PARENT, showDeleted: true })).data.workloadIdentityPools!.map((p) => p.name);
    expect(withDeleted).toContain(poolName('doomed'));

    const conflict = await rejection(createPool('doomed'));
    expect(conflict.status).toBe(409);
    expect(googleError(conflict)).toMatchObject({ code: 409, status: 'ALREADY_EXISTS', message: 'Requested entity already exists' });

    const { data: undeleted } = await api.undelete({ name: `${PARENT}/workloadIdentityPools/doomed`, requestBody: {} });
    expect(undeleted.response).toMatchObject({ name: poolName('doomed'), state: 'ACTIVE' });
    expect((await api.get({ name: `${PARENT}/workloadIdentityPools/doomed` })).data.state).toBe('ACTIVE');
    const notDeleted = await rejection(api.undelete({ name: `${PARENT}/workloadIdentityPools/doomed`, requestBody: {} }));
    expect(notDeleted.status).toBe(400);
  });

  it('purges a pool 30 days after deletion, freeing its id', async () => {
    await createPool('short-lived');
    await api.delete({ name: `${PARENT}/workloadIdentityPools/short-lived` });
    await h.admin('POST', '/admin/v1/clock', { advanceSeconds: 31 * 86_400 });
    try {
      const gone = await rejection(api.get({ name: `${PARENT}/workloadIdentityPools/short-lived` }));
      expect(gone.status).toBe(404);
      expect(googleError(gone)).toMatchObject({ status: 'NOT_FOUND', message: 'Requested entity was not found.' });
      const { data: again } = await createPool('short-lived');
      expect(again.response).toMatchObject({ state: 'ACTIVE' });
    } finally {
      await h.admin('POST', '/admin/v1/clock', { advanceSeconds: -31 * 86_400 });
    }
  });

  it('patches the fields named in updateMask and requires one', async () => {
    await createPool('patchable', { displayName: 'before' });
    const { data: op } = await api.patch({ name: `${PARENT}/workloadIdentityPools/patchable`, updateMask: 'display_name,disabled', requestBody: { displayName: 'after', disabled: true } });
    expect(op.response).toMatchObject({ displayName: 'after', disabled: true });
    const noMask = await rejection(api.patch({ name: `${PARENT}/workloadIdentityPools/patchable`, requestBody: { displayName: 'x' } }));
    expect(noMask.status).toBe(400);
  });

  it('pages through pools', async () => {
    for (const id of ['page-a', 'page-b', 'page-c']) await createPool(id);
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const { data } = await api.list({ parent: PARENT, pageSize: 2, ...(pageToken ? { pageToken } : {}) });
      seen.push(...data.workloadIdentityPools!.map((p) => p.name!));
      pageToken = data.nextPageToken ?? undefined;
      pages++;
    } while (pageToken && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c'].map(poolName)));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('lets a viewer read pools but not create them (403 with the permission named)', async () => {
    const viewer = h.iamApi(h.authAs(CI_DEPLOYER)).projects.locations.workloadIdentityPools;
    expect((await viewer.get({ name: `${PARENT}/workloadIdentityPools/ci-pool` })).data.state).toBe('ACTIVE');
    const err = await rejection(viewer.create({ parent: PARENT, workloadIdentityPoolId: 'not-mine', requestBody: {} }));
    expect(err.status).toBe(403);
    expect(googleError(err).message).toBe(`Permission 'iam.workloadIdentityPools.create' denied on resource '//iam.googleapis.com/projects/${PROJECT_NUMBER}/locations/global' (or it may not exist).`);
  });
});

describe('workload identity pool providers', () => {
  const providers = () => api.providers;
  const parent = `${PARENT}/workloadIdentityPools/ci-pool`;

  it('creates, reads and lists an OIDC provider', async () => {
    const { data: op } = await providers().create({ parent, workloadIdentityPoolProviderId: 'github', requestBody: githubProvider() });
    expect(op).toMatchObject({
      done: true,
      metadata: { '@type': 'type.googleapis.com/google.iam.v1.WorkloadIdentityPoolProviderOperationMetadata' },
      response: { '@type': 'type.googleapis.com/google.iam.v1.WorkloadIdentityPoolProvider', name: `${poolName('ci-pool')}/providers/github` },
    });
    const { data: provider } = await providers().get({ name: `${parent}/providers/github` });
    expect(provider).toEqual({
      name: `${poolName('ci-pool')}/providers/github`,
      displayName: 'GitHub',
      state: 'ACTIVE',
      attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.repository_id': 'assertion.repository_id' },
      attributeCondition: "assertion.repository_id == '74'",
      oidc: { issuerUri: GITHUB },
    });
    const { data: listed } = await providers().list({ parent });
    expect(listed.workloadIdentityPoolProviders!.map((p) => p.name)).toEqual([`${poolName('ci-pool')}/providers/github`]);
  });

  it.each([
    ['an issuer that is not https', { ...githubProvider(), oidc: { issuerUri: 'http://token.example.com' } }, 'Invalid OIDC issuer URI. The scheme must be https.'],
    ['no google.subject mapping', { ...githubProvider(), attributeMapping: { 'attribute.repository_id': 'assertion.repository_id' } }, 'The attribute mapping must contain a mapping for google.subject.'],
    ['a condition outside the evaluated CEL', githubProvider("assertion.sub.matches('^repo:')"), "unsupported function 'matches'"],
    ['a condition naming an unknown variable', githubProvider("request.auth == 'x'"), "undeclared reference to 'request'"],
    ['a mapping key outside google.* and attribute.*', { ...githubProvider(), attributeMapping: { 'google.subject': 'assertion.sub', repo: 'assertion.repository' } }, 'Invalid mapped attribute key: repo.'],
  ])('refuses a provider with %s', async (_what, body, message) => {
    const err = await rejection(providers().create({ parent, workloadIdentityPoolProviderId: 'refused', requestBody: body }));
    expect(err.status).toBe(400);
    expect(googleError(err).status).toBe('INVALID_ARGUMENT');
    expect(googleError(err).message).toContain(message);
    const missing = await rejection(providers().get({ name: `${parent}/providers/refused` }));
    expect(missing.status).toBe(404);
  });

  it('patches the condition, deletes, refuses the reused id and undeletes', async () => {
    await providers().create({ parent, workloadIdentityPoolProviderId: 'gitlab', requestBody: { ...githubProvider("assertion.project_id == '42'"), oidc: { issuerUri: 'https://gitlab.com', allowedAudiences: ['https://gitlab.com'] } } });
    const { data: patched } = await providers().patch({ name: `${parent}/providers/gitlab`, updateMask: 'attributeCondition', requestBody: { attributeCondition: "assertion.project_id == '43'" } });
    expect(patched.response).toMatchObject({ attributeCondition: "assertion.project_id == '43'", oidc: { issuerUri: 'https://gitlab.com', allowedAudiences: ['https://gitlab.com'] } });
    await providers().delete({ name: `${parent}/providers/gitlab` });
    expect((await providers().list({ parent })).data.workloadIdentityPoolProviders!.map((p) => p.name)).not.toContain(`${poolName('ci-pool')}/providers/gitlab`);
    expect((await providers().list({ parent, showDeleted: true })).data.workloadIdentityPoolProviders!.map((p) => p.state)).toContain('DELETED');
    const conflict = await rejection(providers().create({ parent, workloadIdentityPoolProviderId: 'gitlab', requestBody: githubProvider() }));
    expect(conflict.status).toBe(409);
    const { data: undeleted } = await providers().undelete({ name: `${parent}/providers/gitlab`, requestBody: {} });
    expect(undeleted.response).toMatchObject({ state: 'ACTIVE', attributeCondition: "assertion.project_id == '43'" });
  });
});

describe('the GAPIC v1beta client (@google-cloud/iam)', () => {
  it('creates, lists and deletes a pool through its long-running operations', async () => {
    const url = new URL(h.baseUrl);
    const client = new v1beta.WorkloadIdentityPoolsClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', authClient: owner });
    try {
      const [created] = await client.createWorkloadIdentityPool({ parent: PARENT, workloadIdentityPoolId: 'gapic-pool', workloadIdentityPool: { displayName: 'gapic' } });
      const [pool] = await created.promise();
      expect(pool).toMatchObject({ name: poolName('gapic-pool'), displayName: 'gapic' });
      const [pools] = await client.listWorkloadIdentityPools({ parent: PARENT });
      expect(pools.map((p) => p.name)).toContain(poolName('gapic-pool'));
      const [deleting] = await client.deleteWorkloadIdentityPool({ name: `${PARENT}/workloadIdentityPools/gapic-pool` });
      const [deleted] = await deleting.promise();
      // gax decodes enums as numbers or names depending on the response; DELETED is 2.
      expect(['DELETED', 2]).toContain(deleted.state as unknown as string | number);
    } finally {
      await client.close();
    }
  });
});

describe('persistence', () => {
  it('keeps pools and providers in the state file across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyless-wif-state-'));
    const statePath = join(dir, 'state.json');
    try {
      const first = await startCoreHarness('demo', { statePath });
      const pools = first.iamApi(await first.userAuth(OWNER)).projects.locations.workloadIdentityPools;
      await pools.create({ parent: PARENT, workloadIdentityPoolId: 'kept', requestBody: {} });
      await pools.providers.create({ parent: `${PARENT}/workloadIdentityPools/kept`, workloadIdentityPoolProviderId: 'github', requestBody: githubProvider() });
      await first.stop();
      const second = await startCoreHarness('demo', { statePath });
      try {
        const again = second.iamApi(await second.userAuth(OWNER)).projects.locations.workloadIdentityPools;
        expect((await again.get({ name: `${PARENT}/workloadIdentityPools/kept` })).data.state).toBe('ACTIVE');
        expect((await again.providers.get({ name: `${PARENT}/workloadIdentityPools/kept/providers/github` })).data.attributeCondition).toBe("assertion.repository_id == '74'");
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
