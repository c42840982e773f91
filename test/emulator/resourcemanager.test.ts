import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI_DEPLOYER, ORCHESTRATOR, PROJECT, PROJECT_NUMBER, googleError, rejection, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;

beforeAll(async () => {
  h = await startCoreHarness('demo', { now: () => new Date() });
});
afterAll(() => h.stop());

const ABORTED_MESSAGE = 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.';

describe('Resource Manager project IAM policy', () => {
  it('v3: reads the policy with the orchestrator\'s roles and writes it with an etag', async () => {
    const crm = h.crmV3(h.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { options: { requestedPolicyVersion: 3 } } });
    const roles = policy.bindings!.filter((b) => b.members!.includes(`serviceAccount:${ORCHESTRATOR}`)).map((b) => b.role);
    expect(roles).toEqual(expect.arrayContaining(['roles/serviceusage.apiKeysAdmin', 'roles/resourcemanager.projectIamAdmin', 'roles/iam.serviceAccountTokenCreator']));
    const bindings = [...policy.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:${CI_DEPLOYER}`] }];
    const { data: written } = await crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: { ...policy, bindings }, updateMask: 'bindings,etag' } });
    expect(written.etag).not.toBe(policy.etag);
    expect(written.bindings!.some((b) => b.role === 'roles/aiplatform.user')).toBe(true);
    const byNumber = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT_NUMBER}`, requestBody: {} });
    expect(byNumber.data.etag).toBe(written.etag);
  });

  it('v1: refuses a stale etag with 409 ABORTED, Google\'s message and the legacy errors array', async () => {
    const crm = h.crm('v1', h.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: PROJECT, requestBody: { options: { requestedPolicyVersion: 3 } } });
    await crm.projects.setIamPolicy({ resource: PROJECT, requestBody: { policy } });
    const err = await rejection(crm.projects.setIamPolicy({ resource: PROJECT, requestBody: { policy } }));
    expect(err.status).toBe(409);
    const error = googleError(err);
    expect(error).toMatchObject({ code: 409, status: 'ABORTED', message: ABORTED_MESSAGE });
    expect(error.errors?.[0]).toMatchObject({ domain: 'global', reason: 'aborted' });
  });

  it('treats a policy without etag as a blind overwrite', async () => {
    const crm = h.crmV3(h.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    const { etag: _dropped, ...blind } = policy;
    const { data } = await crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: blind } });
    expect(data.etag).not.toBe(policy.etag);
  });

  it('refuses a binding for a service account that does not exist', async () => {
    const crm = h.crmV3(h.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    const bindings = [...policy.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:ghost-account@${PROJECT}.iam.gserviceaccount.com`] }];
    const err = await rejection(crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: { ...policy, bindings } } }));
    expect(err.status).toBe(400);
    expect(googleError(err).status).toBe('INVALID_ARGUMENT');
  });

  it('records when a binding was added, so it takes effect only after the propagation delay', async () => {
    const crm = h.crmV3(h.authAs(ORCHESTRATOR));
    const member = `serviceAccount:${ORCHESTRATOR}`;
    expect(h.emu.core.hasProjectRole(PROJECT, member, ['roles/storage.admin'])).toEqual({ granted: false, effective: false });
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    await crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: { ...policy, bindings: [...policy.bindings!, { role: 'roles/storage.admin', members: [member] }] } } });
    expect(h.emu.core.hasProjectRole(PROJECT, member, ['roles/storage.admin'])).toEqual({ granted: true, effective: false });
    await h.admin('POST', '/admin/v1/clock', { advanceSeconds: 10 });
    expect(h.emu.core.hasProjectRole(PROJECT, member, ['roles/storage.admin'])).toEqual({ granted: true, effective: true });
  });

  it('answers a caller without the permission, or an unknown project, with 403', async () => {
    const crm = h.crmV3(h.authAs(CI_DEPLOYER));
    const { data } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    const err = await rejection(crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: data } }));
    expect(err.status).toBe(403);
    expect(googleError(err)).toMatchObject({ status: 'PERMISSION_DENIED', message: 'The caller does not have permission' });
    const unknown = await rejection(h.crmV3(h.authAs(ORCHESTRATOR)).projects.getIamPolicy({ resource: 'projects/no-such-project', requestBody: {} }));
    expect(unknown.status).toBe(403);
  });

  it('v1 projects.get returns the project number', async () => {
    const { data } = await h.crm('v1', h.authAs(ORCHESTRATOR)).projects.get({ projectId: PROJECT });
    expect(data).toMatchObject({ projectId: PROJECT, projectNumber: PROJECT_NUMBER, lifecycleState: 'ACTIVE' });
  });
});
