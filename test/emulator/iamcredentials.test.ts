import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Impersonated } from 'google-auth-library';
import { CI_DEPLOYER, ORCHESTRATOR, PARENT, PROJECT, googleError, reasonOf, rejection, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;
const PIPELINE_SA = `ticket-triage@${PROJECT}.iam.gserviceaccount.com`;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  await h.iamApi(h.authAs(ORCHESTRATOR)).projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'ticket-triage' } });
});
afterAll(() => h.stop());

describe('IAM Credentials generateAccessToken', () => {
  it('mints a token for an account when the caller holds the token creator role on the project', async () => {
    const creds = h.credentialsApi(h.authAs(ORCHESTRATOR));
    const { data } = await creds.projects.serviceAccounts.generateAccessToken({
      name: `projects/-/serviceAccounts/${PIPELINE_SA}`,
      requestBody: { scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '600s' },
    });
    expect(data.accessToken).toMatch(/^ya29\./);
    const remaining = Date.parse(data.expireTime!) - Date.now();
    expect(remaining).toBeGreaterThan(590_000);
    expect(remaining).toBeLessThanOrEqual(600_000);
    // The token acts as the pipeline's account, which holds no role on the project yet.
    const res = await fetch(`${h.baseUrl}/v2/${PARENT}/keys`, { headers: { authorization: `Bearer ${data.accessToken}` } });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain("'apikeys.keys.list'");
  });

  it('answers a caller without the token creator role with 403 IAM_PERMISSION_DENIED', async () => {
    const creds = h.credentialsApi(h.authAs(CI_DEPLOYER));
    const err = await rejection(
      creds.projects.serviceAccounts.generateAccessToken({ name: `projects/-/serviceAccounts/${PIPELINE_SA}`, requestBody: { scope: ['https://www.googleapis.com/auth/cloud-platform'] } }),
    );
    expect(err.status).toBe(403);
    const error = googleError(err);
    expect(error).toMatchObject({ status: 'PERMISSION_DENIED', message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)." });
    expect(reasonOf(error)).toBe('IAM_PERMISSION_DENIED');
    expect(error.details?.[0]).toMatchObject({ domain: 'iam.googleapis.com', metadata: { permission: 'iam.serviceAccounts.getAccessToken' } });
  });

  it('honours a token creator binding on the account itself', async () => {
    const admin = h.iamApi(h.authAs(ORCHESTRATOR));
    const resource = `projects/${PROJECT}/serviceAccounts/${PIPELINE_SA}`;
    const { data: policy } = await admin.projects.serviceAccounts.getIamPolicy({ resource });
    await admin.projects.serviceAccounts.setIamPolicy({
      resource,
      requestBody: { policy: { ...policy, bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${CI_DEPLOYER}`] }] } },
    });
    const { data } = await h.credentialsApi(h.authAs(CI_DEPLOYER)).projects.serviceAccounts.generateAccessToken({
      name: `projects/-/serviceAccounts/${PIPELINE_SA}`,
      requestBody: { scope: ['https://www.googleapis.com/auth/cloud-platform'] },
    });
    expect(data.accessToken).toMatch(/^ya29\./);
  });

  it('answers a missing account like a missing permission, and refuses lifetimes over an hour', async () => {
    const creds = h.credentialsApi(h.authAs(ORCHESTRATOR));
    const missing = await rejection(
      creds.projects.serviceAccounts.generateAccessToken({ name: `projects/-/serviceAccounts/ghost@${PROJECT}.iam.gserviceaccount.com`, requestBody: { scope: ['x'] } }),
    );
    expect(missing.status).toBe(403);
    const long = await rejection(
      creds.projects.serviceAccounts.generateAccessToken({ name: `projects/-/serviceAccounts/${PIPELINE_SA}`, requestBody: { scope: ['x'], lifetime: '7200s' } }),
    );
    expect(long.status).toBe(400);
    expect(googleError(long).status).toBe('INVALID_ARGUMENT');
  });

  it('serves google-auth-library Impersonated pointed at the emulator, as the auth of a GAPIC client', async () => {
    const impersonated = new Impersonated({
      sourceClient: h.authAs(ORCHESTRATOR),
      targetPrincipal: ORCHESTRATOR,
      targetScopes: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetime: 900,
      delegates: [],
      endpoint: h.baseUrl,
    });
    const keys = h.apiKeys(impersonated);
    const [list] = await keys.listKeys({ parent: PARENT });
    expect(list.length).toBeGreaterThanOrEqual(4);
    const { token } = await impersonated.getAccessToken();
    expect(token).toMatch(/^ya29\./);
    await keys.close();
  });
});
