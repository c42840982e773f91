// Provision activities against the demo emulator with the official IAM and Resource Manager clients.

import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../contracts/errors';
import { createActivities, type KeylessActivities } from '../../activities';
import type { EnsureServiceAccountResult } from '../../contracts/activities';
import { TOKEN_CREATOR_ROLE, VERTEX_ROLE } from '../../contracts/roles';
import { createGoogleClients, endpointConfigFromEnv } from '../../google/clients';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { failureOf } from '../support/failures';

let cloud: TestCloud;
let provision: KeylessActivities;

beforeAll(async () => {
  cloud = await startTestCloud();
  provision = createActivities({ clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
});
afterAll(async () => cloud?.stop());

interface AuditEntry {
  surface: string;
  method: string;
  path: string;
  status: number;
}

async function audit(surface: string): Promise<AuditEntry[]> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/audit?surface=${surface}`);
  return ((await res.json()) as { entries: AuditEntry[] }).entries;
}

async function projectPolicy() {
  const { data } = await cloud.clients.resourceManager.projects.getIamPolicy({
    resource: `projects/${DEMO_PROJECT}`,
    requestBody: { options: { requestedPolicyVersion: 3 } },
  });
  return data;
}

describe('ensureServiceAccount', () => {
  it('creates the account once; a second run adopts it and changes nothing', async () => {
    const input = { project: DEMO_PROJECT, accountId: 'nightly-summarizer', displayName: 'nightly summarizer', create: true, owner: 'keyless/demo-project/nightly-summarizer' };
    const first = await provision.ensureServiceAccount(input);
    const second = await provision.ensureServiceAccount(input);
    expect(first).toEqual({ email: `nightly-summarizer@${DEMO_PROJECT}.iam.gserviceaccount.com`, uniqueId: expect.stringMatching(/^\d+$/), created: true });
    // Same owner: a retry of our own create still reports the account as ours, so rollback removes it.
    expect(second).toEqual(first);
    const creates = (await audit('iam')).filter((e) => e.method === 'POST' && e.path.endsWith(`/projects/${DEMO_PROJECT}/serviceAccounts`));
    expect(creates).toHaveLength(1);
  });

  it('inside a workflow run, claims its own account across retries but not a later run\'s', async () => {
    const input = { project: DEMO_PROJECT, accountId: 'report-digest', create: true };
    const ensureIn = (runId: string) =>
      new MockActivityEnvironment({ workflowExecution: { workflowId: 'keyless/demo-project/report-digest', runId } }).run(provision.ensureServiceAccount, input) as Promise<EnsureServiceAccountResult>;
    const first = await ensureIn('run-1');
    const retried = await ensureIn('run-1');
    const later = await ensureIn('run-2');
    expect([first.created, retried.created, later.created]).toEqual([true, true, false]);
    expect(later.uniqueId).toBe(first.uniqueId);
  });

  it('adopts an account someone else created, and does not claim it', async () => {
    await cloud.clients.iam.projects.serviceAccounts.create({
      name: `projects/${DEMO_PROJECT}`,
      requestBody: { accountId: 'ticket-triage', serviceAccount: { displayName: 'made by hand' } },
    });
    const result = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'ticket-triage', create: true, owner: 'keyless/demo-project/ticket-triage' });
    expect(result.created).toBe(false);
    expect(result.email).toBe(`ticket-triage@${DEMO_PROJECT}.iam.gserviceaccount.com`);
  });

  it('adopts on 409 when the account appears between its read and its create', async () => {
    const accountId = 'raced-account';
    const get = cloud.clients.iam.projects.serviceAccounts.get.bind(cloud.clients.iam.projects.serviceAccounts);
    let raced = false;
    // Someone else creates the account right after the activity found it missing.
    const serviceAccounts = Object.create(cloud.clients.iam.projects.serviceAccounts) as typeof cloud.clients.iam.projects.serviceAccounts;
    serviceAccounts.get = (async (params: Parameters<typeof get>[0]) => {
      try {
        return await get(params);
      } finally {
        if (!raced) {
          raced = true;
          await cloud.clientsAs(DEMO_ORCHESTRATOR).iam.projects.serviceAccounts.create({ name: `projects/${DEMO_PROJECT}`, requestBody: { accountId } });
        }
      }
    }) as unknown as typeof get;
    const racing = { ...cloud.clients, iam: { ...cloud.clients.iam, projects: { ...cloud.clients.iam.projects, serviceAccounts } } as typeof cloud.clients.iam };
    const result = await createActivities({ clients: racing }).ensureServiceAccount({ project: DEMO_PROJECT, accountId, create: true });
    expect(raced).toBe(true);
    expect(result).toMatchObject({ email: `${accountId}@${DEMO_PROJECT}.iam.gserviceaccount.com`, created: false });
    const conflicts = (await audit('iam')).filter((e) => e.method === 'POST' && e.status === 409);
    expect(conflicts.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses, non-retryably, to invent an account the spec says exists', async () => {
    const failure = await failureOf(provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'does-not-exist', create: false }));
    expect(failure.type).toBe(ErrorType.InvalidSpec);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('create: false');
  });
});

describe('ensureVertexRole', () => {
  it('grants roles/aiplatform.user once and keeps every other binding', async () => {
    const { email } = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'vertex-grant', create: true });
    const member = `serviceAccount:${email}`;
    const before = await projectPolicy();
    const writesBefore = (await audit('resourcemanager')).filter((e) => e.path.endsWith(':setIamPolicy')).length;
    const first = await provision.ensureVertexRole({ project: DEMO_PROJECT, member });
    const second = await provision.ensureVertexRole({ project: DEMO_PROJECT, member: email });
    expect(first.added).toBe(true);
    expect(second).toMatchObject({ added: false, etag: first.etag });
    const writes = (await audit('resourcemanager')).filter((e) => e.path.endsWith(':setIamPolicy')).length - writesBefore;
    expect(writes).toBe(1);
    const after = await projectPolicy();
    expect(after.bindings?.find((b) => b.role === VERTEX_ROLE)?.members).toContain(member);
    for (const binding of before.bindings ?? []) {
      expect(after.bindings).toContainEqual(expect.objectContaining({ role: binding.role, members: expect.arrayContaining(binding.members ?? []) }));
    }
  });

  it('survives a concurrent policy change: re-reads on 409 and both bindings remain, conditions included', async () => {
    const { email } = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'vertex-race', create: true });
    const other = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'bystander', create: true });
    const otherMember = `serviceAccount:${other.email}`;
    // A condition the emulator evaluates (it refuses any other rather than ignore it).
    const condition = { title: 'grants only Vertex users', expression: "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/aiplatform.user'])" };
    const crm = cloud.clients.resourceManager.projects;
    const getIamPolicy = crm.getIamPolicy.bind(crm);
    let interfered = 0;
    const projects = Object.create(crm) as typeof crm;
    // Between the activity's read and its write, another administrator adds a conditional binding.
    projects.getIamPolicy = (async (params: Parameters<typeof getIamPolicy>[0]) => {
      const read = await getIamPolicy(params);
      if (interfered === 0) {
        interfered += 1;
        const theirs = cloud.clientsAs(DEMO_ORCHESTRATOR).resourceManager.projects;
        const { data: current } = await theirs.getIamPolicy({ resource: `projects/${DEMO_PROJECT}`, requestBody: { options: { requestedPolicyVersion: 3 } } });
        await theirs.setIamPolicy({
          resource: `projects/${DEMO_PROJECT}`,
          requestBody: { policy: { ...current, version: 3, bindings: [...(current.bindings ?? []), { role: 'roles/resourcemanager.projectIamAdmin', members: [otherMember], condition }] } },
        });
      }
      return read;
    }) as unknown as typeof getIamPolicy;
    const clients = { ...cloud.clients, resourceManager: { ...cloud.clients.resourceManager, projects } as typeof cloud.clients.resourceManager };
    const auditBefore = (await audit('resourcemanager')).length;

    const result = await createActivities({ clients }).ensureVertexRole({ project: DEMO_PROJECT, member: email });

    expect(interfered).toBe(1);
    expect(result.added).toBe(true);
    const writes = (await audit('resourcemanager')).slice(auditBefore).filter((e) => e.path.endsWith(':setIamPolicy'));
    expect(writes.map((e) => e.status)).toEqual([200, 409, 200]);
    const after = await projectPolicy();
    expect(after.bindings?.find((b) => b.role === VERTEX_ROLE && !b.condition)?.members).toContain(`serviceAccount:${email}`);
    expect(after.bindings).toContainEqual(expect.objectContaining({ role: 'roles/resourcemanager.projectIamAdmin', members: [otherMember], condition: expect.objectContaining(condition) }));
  });
});

describe('ensureTokenCreator', () => {
  it('lets the orchestrator mint the account\'s tokens, once', async () => {
    const { email } = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'token-target', create: true });
    const first = await provision.ensureTokenCreator({ serviceAccountEmail: email });
    const second = await provision.ensureTokenCreator({ serviceAccountEmail: email, orchestratorEmail: DEMO_ORCHESTRATOR });
    expect(first).toMatchObject({ added: true, orchestratorEmail: DEMO_ORCHESTRATOR });
    expect(second).toMatchObject({ added: false, etag: first.etag });
    const { data: policy } = await cloud.clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/${DEMO_PROJECT}/serviceAccounts/${email}` });
    expect(policy.bindings).toContainEqual(expect.objectContaining({ role: TOKEN_CREATOR_ROLE, members: [`serviceAccount:${DEMO_ORCHESTRATOR}`] }));
  });
});

describe('compensations', () => {
  it('removes only this member from the Vertex role, then deletes the account; both are idempotent', async () => {
    const mine = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'rollback-me', create: true });
    const theirs = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId: 'keep-me', create: true });
    await provision.ensureVertexRole({ project: DEMO_PROJECT, member: mine.email });
    await provision.ensureVertexRole({ project: DEMO_PROJECT, member: theirs.email });

    expect(await provision.removeVertexRole({ project: DEMO_PROJECT, member: mine.email })).toMatchObject({ removed: true });
    expect(await provision.removeVertexRole({ project: DEMO_PROJECT, member: mine.email })).toMatchObject({ removed: false });
    const members = (await projectPolicy()).bindings?.find((b) => b.role === VERTEX_ROLE)?.members ?? [];
    expect(members).toContain(`serviceAccount:${theirs.email}`);
    expect(members).not.toContain(`serviceAccount:${mine.email}`);

    expect(await provision.deleteServiceAccount({ email: mine.email })).toMatchObject({ deleted: true, changes: [{ kind: 'account-deleted', target: mine.email }] });
    expect(await provision.deleteServiceAccount({ email: mine.email })).toMatchObject({ deleted: false });
    const gone = await cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/${DEMO_PROJECT}/serviceAccounts/${mine.email}` }).catch((e: { status?: number }) => e.status);
    expect(gone).toBe(404);
  });
});

describe('whoAmI', () => {
  it('reads the orchestrator from Application Default Credentials (the metadata server)', async () => {
    const env = await cloud.emulator.envFor(DEMO_ORCHESTRATOR);
    const saved = { ...process.env };
    try {
      Object.assign(process.env, env);
      delete process.env.METADATA_SERVER_DETECTION;
      const adc = createGoogleClients(endpointConfigFromEnv(process.env));
      expect((await createActivities({ clients: adc }).whoAmI()).email).toBe(DEMO_ORCHESTRATOR);
      await adc.apiKeys.close();
      await adc.monitoring.close();
    } finally {
      process.env = saved;
    }
  });

  it('asks for the email when a bare token cannot tell', async () => {
    const failure = await failureOf(createActivities({ clients: cloud.clients }).whoAmI());
    expect(failure.type).toBe(ErrorType.InvalidSpec);
  });
});
