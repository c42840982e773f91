import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI_DEPLOYER, ORCHESTRATOR, PROJECT, googleError, reasonOf, rejection, startCoreHarness, staticTokenClient, type CoreHarness } from './core-harness';
import { testKeyString } from '../support/keys';

let h: CoreHarness;
let api: ReturnType<CoreHarness['iamApi']>;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  api = h.iamApi(h.authAs(ORCHESTRATOR));
});
afterAll(() => h.stop());

const emailOf = (accountId: string) => `${accountId}@${PROJECT}.iam.gserviceaccount.com`;

describe('IAM v1 service accounts with @googleapis/iam', () => {
  it('creates an account and reads it by email, unique id and the projects/- form', async () => {
    const { data: created } = await api.projects.serviceAccounts.create({
      name: `projects/${PROJECT}`,
      requestBody: { accountId: 'nightly-summarizer', serviceAccount: { displayName: 'nightly summarizer', description: 'runs the nightly job' } },
    });
    expect(created).toMatchObject({
      name: `projects/${PROJECT}/serviceAccounts/${emailOf('nightly-summarizer')}`,
      email: emailOf('nightly-summarizer'),
      projectId: PROJECT,
      displayName: 'nightly summarizer',
    });
    expect(created.uniqueId).toMatch(/^\d{21}$/);
    expect(created.oauth2ClientId).toBe(created.uniqueId);
    const byId = await api.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${created.uniqueId}` });
    expect(byId.data.email).toBe(created.email);
    const wildcard = await api.projects.serviceAccounts.get({ name: `projects/-/serviceAccounts/${created.email}` });
    expect(wildcard.data.uniqueId).toBe(created.uniqueId);
  });

  it('answers a duplicate with 409 ALREADY_EXISTS and Google\'s message', async () => {
    const err = await rejection(api.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'keyless' } }));
    expect(err.status).toBe(409);
    const error = googleError(err);
    expect(error.status).toBe('ALREADY_EXISTS');
    expect(error.message).toBe(`Service account keyless already exists within project projects/${PROJECT}.`);
    expect(error.details?.[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceName: `projects/${PROJECT}/serviceAccounts/${ORCHESTRATOR}` });
    expect(error.errors?.[0]?.reason).toBe('alreadyExists');
  });

  it('refuses account ids that break the rules with 400 INVALID_ARGUMENT', async () => {
    for (const accountId of ['short', 'Upper-case-id', 'ends-with-hyphen-', '1starts-with-digit']) {
      const err = await rejection(api.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId } }));
      expect(err.status).toBe(400);
      expect(googleError(err).status).toBe('INVALID_ARGUMENT');
    }
  });

  it('answers 404 for a missing account, but 403 under projects/-', async () => {
    const missing = await rejection(api.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${emailOf('nobody-here')}` }));
    expect(missing.status).toBe(404);
    expect(googleError(missing)).toMatchObject({ status: 'NOT_FOUND', message: 'Unknown service account' });
    const hidden = await rejection(api.projects.serviceAccounts.get({ name: `projects/-/serviceAccounts/${emailOf('nobody-here')}` }));
    expect(hidden.status).toBe(403);
  });

  it('pages the account list', async () => {
    const first = await api.projects.serviceAccounts.list({ name: `projects/${PROJECT}`, pageSize: 1 });
    expect(first.data.accounts).toHaveLength(1);
    expect(first.data.nextPageToken).toBeTruthy();
    const second = await api.projects.serviceAccounts.list({ name: `projects/${PROJECT}`, pageSize: 100, pageToken: first.data.nextPageToken! });
    expect(second.data.accounts!.map((a) => a.email)).not.toContain(first.data.accounts![0]!.email);
  });

  it('disables an account so its tokens stop working, and enables it again', async () => {
    const email = CI_DEPLOYER;
    const asDeployer = h.iamApi(h.authAs(email));
    await asDeployer.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${email}` });
    await api.projects.serviceAccounts.disable({ name: `projects/${PROJECT}/serviceAccounts/${email}` });
    const { data } = await api.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${email}` });
    expect(data.disabled).toBe(true);
    const err = await rejection(asDeployer.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${email}` }));
    expect(err.status).toBe(401);
    await api.projects.serviceAccounts.enable({ name: `projects/${PROJECT}/serviceAccounts/${email}` });
    const again = await asDeployer.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${email}` });
    expect(again.data.disabled).toBeFalsy();
  });

  it('deletes an account and undeletes it by unique id', async () => {
    const { data: created } = await api.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'short-lived-sa' } });
    await api.projects.serviceAccounts.delete({ name: created.name! });
    expect((await rejection(api.projects.serviceAccounts.get({ name: created.name! }))).status).toBe(404);
    const { data } = await api.projects.serviceAccounts.undelete({ name: `projects/${PROJECT}/serviceAccounts/${created.uniqueId}` });
    expect(data.restoredAccount?.email).toBe(created.email);
    expect((await api.projects.serviceAccounts.get({ name: created.name! })).data.uniqueId).toBe(created.uniqueId);
  });

  it('reads and writes an account\'s IAM policy with etags', async () => {
    const resource = `projects/${PROJECT}/serviceAccounts/${emailOf('nightly-summarizer')}`;
    const { data: empty } = await api.projects.serviceAccounts.getIamPolicy({ resource, 'options.requestedPolicyVersion': 3 });
    expect(empty.bindings ?? []).toHaveLength(0);
    expect(empty.etag).toBeTruthy();
    const policy = { ...empty, bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${ORCHESTRATOR}`] }] };
    const { data: written } = await api.projects.serviceAccounts.setIamPolicy({ resource, requestBody: { policy } });
    expect(written.bindings?.[0]?.members).toEqual([`serviceAccount:${ORCHESTRATOR}`]);
    expect(written.etag).not.toBe(empty.etag);
    const stale = await rejection(api.projects.serviceAccounts.setIamPolicy({ resource, requestBody: { policy } }));
    expect(stale.status).toBe(409);
    expect(googleError(stale).status).toBe('ABORTED');
  });

  it('denies a caller without iam.serviceAccounts.create with 403 IAM_PERMISSION_DENIED', async () => {
    const asDeployer = h.iamApi(h.authAs(CI_DEPLOYER));
    const err = await rejection(asDeployer.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'not-allowed-sa' } }));
    expect(err.status).toBe(403);
    const error = googleError(err);
    expect(error.message).toBe("Permission 'iam.serviceAccounts.create' denied on resource (or it may not exist).");
    expect(reasonOf(error)).toBe('IAM_PERMISSION_DENIED');
  });

  it('rejects calls without credentials with 401', async () => {
    const anon = h.iamApi(staticTokenClient('garbage'));
    const err = await rejection(anon.projects.serviceAccounts.list({ name: `projects/${PROJECT}` }));
    expect(err.status).toBe(401);
    expect(googleError(err).status).toBe('UNAUTHENTICATED');
  });
});

describe('API keys on an API that needs a principal', () => {
  it('answers 401 CREDENTIALS_MISSING with Google\'s message', async () => {
    const keyed = await fetch(`${h.baseUrl}/v1/projects/${PROJECT}/serviceAccounts?key=${testKeyString('anything')}`);
    expect(keyed.status).toBe(401);
    const error = ((await keyed.json()) as any).error;
    expect(error.message).toMatch(/^API keys are not supported by this API/);
    expect(reasonOf(error)).toBe('CREDENTIALS_MISSING');
  });
});
