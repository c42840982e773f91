// `gcloud iam workload-identity-pools …`, unchanged, against the emulator: it shows what the REST
// API created, and what it creates the REST API shows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT, PROJECT_NUMBER, startCoreHarness, type CoreHarness } from './core-harness';
import { gcloudAvailable, gcloudJson } from './gcloud-harness';

const OWNER = 'operator@example.com';
const PARENT = `projects/${PROJECT}/locations/global`;
const poolName = (id: string) => `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${id}`;

let h: CoreHarness;
let dir: string;
const gcloud = (...args: string[]) => gcloudJson({ baseUrl: h.baseUrl, dir, project: PROJECT }, ...args);

describe.skipIf(!gcloudAvailable())('gcloud iam workload-identity-pools (skipped: gcloud is not installed)', () => {
  let pools: ReturnType<CoreHarness['iamApi']>['projects']['locations']['workloadIdentityPools'];

  beforeAll(async () => {
    h = await startCoreHarness('demo');
    dir = await mkdtemp(join(tmpdir(), 'keyless-gcloud-wif-'));
    const { body } = await h.admin('POST', `/admin/v1/users/${OWNER}:mintAccessToken`, {});
    await writeFile(join(dir, 'token'), body.accessToken);
    pools = h.iamApi(await h.userAuth(OWNER)).projects.locations.workloadIdentityPools;
    await pools.create({ parent: PARENT, workloadIdentityPoolId: 'keyless', requestBody: { displayName: 'keyless' } });
    await pools.providers.create({
      parent: `${PARENT}/workloadIdentityPools/keyless`,
      workloadIdentityPoolProviderId: 'nightly-gh',
      requestBody: {
        attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.repository_id': 'assertion.repository_id' },
        attributeCondition: "assertion.repository_id == '74'",
        oidc: { issuerUri: 'https://token.actions.githubusercontent.com' },
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists and describes a pool and a provider made through the REST API', async () => {
    const listed = await gcloud('iam', 'workload-identity-pools', 'list', '--location=global');
    expect(listed).toEqual([{ name: poolName('keyless'), displayName: 'keyless', state: 'ACTIVE' }]);
    const described = await gcloud('iam', 'workload-identity-pools', 'describe', 'keyless', '--location=global');
    expect(described).toEqual({ name: poolName('keyless'), displayName: 'keyless', state: 'ACTIVE' });
    const provider = await gcloud('iam', 'workload-identity-pools', 'providers', 'describe', 'nightly-gh', '--location=global', '--workload-identity-pool=keyless');
    expect(provider).toMatchObject({
      name: `${poolName('keyless')}/providers/nightly-gh`,
      state: 'ACTIVE',
      attributeCondition: "assertion.repository_id == '74'",
      oidc: { issuerUri: 'https://token.actions.githubusercontent.com' },
    });
    const providers = await gcloud('iam', 'workload-identity-pools', 'providers', 'list', '--location=global', '--workload-identity-pool=keyless');
    expect(providers.map((p: { name: string }) => p.name)).toEqual([`${poolName('keyless')}/providers/nightly-gh`]);
  });

  it('creates a pool and an OIDC provider that the REST API then shows', async () => {
    await gcloud('iam', 'workload-identity-pools', 'create', 'from-gcloud', '--location=global', '--display-name=made by gcloud');
    await gcloud(
      'iam', 'workload-identity-pools', 'providers', 'create-oidc', 'gitlab',
      '--location=global', '--workload-identity-pool=from-gcloud',
      '--issuer-uri=https://gitlab.com', '--allowed-audiences=https://gitlab.com',
      '--attribute-mapping=google.subject=assertion.sub,attribute.project_id=assertion.project_id',
      "--attribute-condition=assertion.project_id == '42'",
    );
    const { data: pool } = await pools.get({ name: `${PARENT}/workloadIdentityPools/from-gcloud` });
    expect(pool).toEqual({ name: poolName('from-gcloud'), displayName: 'made by gcloud', state: 'ACTIVE' });
    const { data: provider } = await pools.providers.get({ name: `${PARENT}/workloadIdentityPools/from-gcloud/providers/gitlab` });
    expect(provider).toMatchObject({
      attributeMapping: { 'google.subject': 'assertion.sub', 'attribute.project_id': 'assertion.project_id' },
      attributeCondition: "assertion.project_id == '42'",
      oidc: { issuerUri: 'https://gitlab.com', allowedAudiences: ['https://gitlab.com'] },
    });
    const withDeleted = await gcloud('iam', 'workload-identity-pools', 'list', '--location=global', '--show-deleted');
    expect(withDeleted.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining([poolName('keyless'), poolName('from-gcloud')]));
  });
});
