// Who may act on a migration, and whose change wins: an approval from outside the allow-list is
// refused and leaves a trace, a change someone else makes to the key mid-migration is never
// overwritten by rollback, and a second migration of a pipeline that has one is refused.
// Time-skipping server, the real activities, Google's clients against the emulator.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigration } from '../../client/commands/migrate';
import { sendDecision } from '../../client/migrations';
import { renderMigrationStatus } from '../../client/commands/status';
import { UserError } from '../../client/errors';
import { approveUpdate, rejectUpdate, rollbackSignal, statusQuery } from '../../contracts/messages';
import { validateSpec } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { approveBoth, maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { auditLog } from '../support/reliability';
import { recordScenario } from '../support/scenarios';
import { waitsForApproval } from '../../contracts/waits';

const STRANGER = 'own-stranger';
const FOREIGN = 'own-foreign';
const DELETED = 'own-deleted';
const DUPLICATE = 'own-duplicate';
const ADOPTED = 'own-adopted';
const COMPLETED = 'own-completed';
const PRE_MISSING = 'own-pre-missing';
const PRE_MADE = 'own-pre-made';
const keyName = (keyId: string) => `projects/demo-project/locations/global/keys/${keyId}`;
/** Someone with the project's owner role, not keyless: the platform team editing a key by hand. */
const OTHER_PRINCIPAL = 'operator@example.com';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([STRANGER, FOREIGN, DELETED, DUPLICATE, ADOPTED, COMPLETED, PRE_MISSING, PRE_MADE]);
});

afterAll(async () => {
  await bench?.stop();
});

async function keyOf(keyId: string) {
  const [key] = await bench.cloud.clients.apiKeys.getKey({ name: keyName(keyId) });
  return key;
}

async function accountExists(email: string): Promise<boolean> {
  return bench.cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/demo-project/serviceAccounts/${email}` }).then(
    () => true,
    () => false,
  );
}

async function vertexMembers(): Promise<string[]> {
  const { data } = await bench.cloud.clients.resourceManager.projects.getIamPolicy({ resource: 'projects/demo-project', requestBody: { options: { requestedPolicyVersion: 3 } } });
  return data.bindings?.find((b) => b.role === 'roles/aiplatform.user')?.members ?? [];
}

async function routePercent(pipeline: string): Promise<number | undefined> {
  const text = await readFile(join(bench.routesDir, 'demo-project', `${pipeline}.json`), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : JSON.parse(text).vertexPercent;
}

/** A call to the emulator's API Keys REST surface as another principal than keyless. */
async function asOtherPrincipal(method: 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const token = bench.cloud.emulator.core.mintAccessToken('user', OTHER_PRINCIPAL, 3600).token;
  const response = await fetch(`${bench.cloud.emulator.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

/** The failure an update was refused with. */
async function updateFailure(update: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await update.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** Calls keyless made to one key after a point in the audit log: reads are not logged, so these are writes. */
async function keylessWritesTo(keyId: string, since: number): Promise<string[]> {
  const entries = (await auditLog(bench.cloud.emulator.baseUrl)).slice(since);
  return entries.filter((e) => e.surface === 'apikeys' && e.path.includes(`/keys/${keyId}`) && e.principal === `serviceAccount:${DEMO_ORCHESTRATOR}`).map((e) => `${e.method} ${e.path}`);
}

describe('given an approval from someone outside approvals.approvers', () => {
  it('when they approve or reject the cutover, then each attempt is refused as ApproverNotAllowed, recorded (the last 20 kept), and changes nothing else', async () => {
    const spec = bench.spec(STRANGER, { approvals: { approvers: ['alice@example.com'], verify: 'none' } });
    const flood = 25;
    const { result, status, refusedInHistory } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');

      const approve = await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'mallory@example.com', note: 'lgtm' }] }));
      expect(approve.type).toBe('ApproverNotAllowed');
      expect(approve.nonRetryable).toBe(true);
      expect(approve.message).toMatch(/^mallory@example.com is not in approvals.approvers for own-stranger: the attempt is recorded/);
      expect((await updateFailure(handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'mallory@example.com' }] }))).type).toBe('ApproverNotAllowed');
      // The CLI shows the refusal and where to find it.
      const cli = await sendDecision(bench.env.client, { pipeline: STRANGER, project: 'demo-project' }, 'approve', { stage: 'cutover', by: 'trent@example.com' }).catch((e: unknown) => e);
      expect(cli).toBeInstanceOf(UserError);
      expect((cli as UserError).message).toMatch(/^approve refused: trent@example.com is not in approvals.approvers/);
      expect((cli as UserError).hint).toMatch(/keyless status own-stranger --project demo-project/);
      // Malformed or early approvals are still refused by the validator, before they are recorded.
      expect((await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ stage: 'finalize', by: 'mallory@example.com' }] }))).message).toMatch(/stage finalize is not waiting/);
      expect((await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: '' }] }))).message).toMatch(/by must name who acts/);

      const early = await handle.query(statusQuery);
      expect(early.refusals?.total).toBe(3);
      expect(early.refusals?.recent.map((r) => [r.action, r.stage, r.by])).toEqual([
        ['approve', 'cutover', 'mallory@example.com'],
        ['reject', 'cutover', 'mallory@example.com'],
        ['approve', 'cutover', 'trent@example.com'],
      ]);
      expect(early.refusals?.recent[0]?.reason).toBe('mallory@example.com is not in approvals.approvers for own-stranger');

      // A flood: state keeps a bounded window, the count keeps growing.
      for (let i = 0; i < flood; i++) {
        await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: `bot-${i}@example.com` }] }));
      }
      const status = await handle.query(statusQuery);
      expect(status.wait).toEqual({ kind: 'approval', stage: 'cutover' });
      expect(status.stage).toBe('approve-cutover');
      expect(status.decisions).toEqual([]);
      expect(status.vertexPercent).toBe(0);

      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com', note: 'test over' }] });
      const result = (await handle.result()) as MigrationResult;
      const history = await handle.fetchHistory();
      const refusedInHistory = (history.events ?? []).filter(
        (e) => e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.failure?.applicationFailureInfo?.type === 'ApproverNotAllowed',
      ).length;
      return { result, status, refusedInHistory };
    });

    const total = 3 + flood;
    expect(status.refusals?.total).toBe(total);
    expect(status.refusals?.recent).toHaveLength(20);
    expect(status.refusals?.recent.at(-1)?.by).toBe(`bot-${flood - 1}@example.com`);
    expect(status.refusals?.recent[0]?.by).toBe(`bot-${total - 20 - 3}@example.com`);
    expect(renderMigrationStatus(status)).toMatch(new RegExp(`refused approvals: ${total} \\(the last 20 shown\\)\\n.* approve cutover by bot-`));
    // Each refusal is an accepted update that failed: on record in the history, not only in state.
    expect(refusedInHistory).toBe(total);
    // The only decision counted is the allowed approver's; the refusals travel into the result.
    expect(result.outcome).toBe('rolled-back');
    expect(result.decisions.map((d) => [d.action, d.by])).toEqual([['reject', 'alice@example.com']]);
    expect(result.rollback).toMatchObject({ reason: 'cutover rejected by alice@example.com', failureType: 'Rejected' });
    expect(result.refusals?.total).toBe(total);

    recordScenario({
      scenario: 'approval from outside approvals.approvers',
      runs: total,
      outcome: `each refused as ApproverNotAllowed and recorded (${total} in history, last 20 in status); no decision counted, the cutover still waited`,
    });
  });
});

describe('given someone else changes the key while the migration runs', () => {
  it('when the migration rolls back from the canary, then the key is left as they set it, route, binding and account are undone, and the result says what to do', async () => {
    const spec = bench.spec(FOREIGN, {
      approvals: { cutover: false },
      canary: { steps: [{ percent: 50, bake: '7d' }, { percent: 100, bake: '1m' }] },
    });
    const account = `${FOREIGN}-sa@demo-project.iam.gserviceaccount.com`;
    const { result, status, foreign, writesAfter } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 50, 'first canary step');
      expect((await keyOf(FOREIGN)).restrictions?.apiTargets?.map((t) => t.service)).toEqual(['generativelanguage.googleapis.com']);

      // The data team renames the key and lets it call a second API, by hand, through the REST API.
      const auditBefore = (await auditLog(bench.cloud.emulator.baseUrl)).length;
      await asOtherPrincipal('PATCH', `/v2/${keyName(FOREIGN)}?updateMask=displayName,restrictions`, {
        displayName: 'own-foreign (also the BI export)',
        restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }, { service: 'translate.googleapis.com' }] },
      });
      const foreign = await keyOf(FOREIGN);

      await handle.signal(rollbackSignal, { by: 'dave@example.com', reason: 'latency doubled' });
      const result = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('foreign-change-rollback', await handle.fetchHistory());
      const status = await handle.query(statusQuery);
      return { result, status, foreign, writesAfter: await keylessWritesTo(FOREIGN, auditBefore) };
    });

    // Their change stands: nothing keyless wrote to the key after it, and the key is exactly theirs.
    expect(writesAfter).toEqual([]);
    const after = await keyOf(FOREIGN);
    expect(after.etag).toBe(foreign.etag);
    expect(after.displayName).toBe('own-foreign (also the BI export)');
    expect(after.restrictions?.apiTargets?.map((t) => t.service)).toEqual(['generativelanguage.googleapis.com', 'translate.googleapis.com']);

    // Every other compensation ran.
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback).toMatchObject({ reason: 'latency doubled', by: 'dave@example.com' });
    expect(await routePercent(FOREIGN)).toBe(0);
    expect(await vertexMembers()).not.toContain(`serviceAccount:${account}`);
    expect(await accountExists(account)).toBe(false);
    expect(result.mutations.map((m) => m.kind)).toEqual([
      'key-restricted',
      'account-created',
      'role-granted',
      'token-creator-granted',
      'token-creator-removed',
      'route-published',
      'route-published',
      'role-removed',
      'account-deleted',
    ]);
    // The stopgap is not marked undone: it was not.
    expect(result.mutations.find((m) => m.kind === 'key-restricted')?.undoneAt).toBeUndefined();
    expect(result.mutations.find((m) => m.kind === 'account-created')?.undoneAt).toBeTruthy();

    // The result and the status say what happened and what to do.
    expect(result.leftAsFound).toHaveLength(1);
    const left = result.leftAsFound![0]!;
    expect(left.target).toBe(keyName(FOREIGN));
    expect(left.changedFields).toEqual(expect.arrayContaining(['displayName', 'restrictions']));
    expect(left.reason).toMatch(/was changed by someone else/);
    expect(left.advice).toMatch(/left it as they set it.*Cloud Audit Logs.*display name "own-foreign \(test\)" and restrictions none/);
    expect(status.stage).toBe('rolled-back');
    expect(status.next).toBe(`rolled back: latency doubled; left as found, because someone else changed it: ${keyName(FOREIGN)} (decide its state by hand)`);
    expect(renderMigrationStatus(status)).toMatch(/left as found: projects\/demo-project\/locations\/global\/keys\/own-foreign \(.*displayName.*\)\n {2}what to do: someone else changed/);

    recordScenario({
      scenario: 'key changed by someone else mid-migration',
      runs: 1,
      outcome: 'rollback left the key as they set it (no write after theirs); route, binding and account undone; status says what to do',
    });
  });

  it('when they delete the key while the cutover waits and the cutover is rejected, then the key stays deleted and the rest of the rollback runs', async () => {
    const spec = bench.spec(DELETED);
    const account = `${DELETED}-sa@demo-project.iam.gserviceaccount.com`;
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      await asOtherPrincipal('DELETE', `/v2/${keyName(DELETED)}`);
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    expect((await keyOf(DELETED)).deleteTime).toBeTruthy();
    expect(await accountExists(account)).toBe(false);
    expect(result.mutations.map((m) => m.kind)).toEqual(['key-restricted', 'account-created', 'role-granted', 'token-creator-granted', 'token-creator-removed', 'role-removed', 'account-deleted']);
    expect(result.leftAsFound?.[0]).toMatchObject({ target: keyName(DELETED), changedFields: ['deleteTime'] });
    expect(result.leftAsFound?.[0]?.advice).toMatch(/someone else deleted .* undelete it within 30 days/);

    recordScenario({
      scenario: 'key deleted by someone else mid-migration',
      runs: 1,
      outcome: 'rollback left it deleted (no undelete); binding and account undone; the result says how to undelete',
    });
  });
});

describe('given a service account that existed before the migration', () => {
  it('when the cutover is rejected, then rollback keeps the account but takes back the binding and the token-creator grant keyless added', async () => {
    const accountId = `${ADOPTED}-sa`;
    const account = `${accountId}@demo-project.iam.gserviceaccount.com`;
    await bench.cloud.clients.iam.projects.serviceAccounts.create({
      name: 'projects/demo-project',
      requestBody: { accountId, serviceAccount: { displayName: 'made by the platform team' } },
    });
    const tokenCreators = async () => {
      const { data } = await bench.cloud.clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/demo-project/serviceAccounts/${account}` });
      return data.bindings?.find((b) => b.role === 'roles/iam.serviceAccountTokenCreator')?.members ?? [];
    };
    expect(await tokenCreators()).toEqual([]);
    const spec = bench.spec(ADOPTED, { serviceAccount: { accountId, create: false } });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      // Taken back as soon as the dual-run passed: nothing after it acts as the account.
      expect(await tokenCreators()).toEqual([]);
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    // The token-creator grant went after the dual-run; then newest first: the binding, the stopgap; the adopted account stays.
    expect(result.mutations.map((m) => m.kind)).toEqual(['key-restricted', 'role-granted', 'token-creator-granted', 'token-creator-removed', 'role-removed', 'key-restored']);
    expect(await accountExists(account)).toBe(true);
    expect(await tokenCreators()).toEqual([]);
    expect(await vertexMembers()).not.toContain(`serviceAccount:${account}`);

    recordScenario({
      scenario: 'adopted service account, cutover rejected',
      runs: 1,
      outcome: 'the token-creator grant keyless had added was gone after the dual-run; rollback removed the binding and kept the account',
    });
  });
});

describe('given a migration that completes', () => {
  it('when it is finalized, then the account it created names the orchestrator nowhere in its policy: no standing power over it', async () => {
    const account = `${COMPLETED}-sa@demo-project.iam.gserviceaccount.com`;
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(bench.spec(COMPLETED), taskQueue);
      await approveBoth(bench, handle);
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    const { data } = await bench.cloud.clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/demo-project/serviceAccounts/${account}` });
    expect((data.bindings ?? []).flatMap((b) => b.members ?? [])).not.toContain(`serviceAccount:${DEMO_ORCHESTRATOR}`);
    const grant = result.mutations.find((m) => m.kind === 'token-creator-granted');
    const revoked = result.mutations.find((m) => m.kind === 'token-creator-removed');
    expect(grant?.undoneAt).toBeDefined();
    expect(revoked?.target).toBe(account);
    // Taken back before the cutover: the canary, soak and finalize ran without it.
    expect(result.mutations.indexOf(revoked!)).toBeLessThan(result.mutations.findIndex((m) => m.kind === 'route-published'));
    recordScenario({ scenario: 'standing token-creator grant gone after completion', runs: 1, outcome: "taken back once the dual-run passed (recorded); the completed migration's account policy names the orchestrator nowhere" });
  });
});

describe('given provisioning: pre-provisioned', () => {
  it('when the operator has made nothing, then provision fails naming each missing piece with its command, and keyless makes none of them', async () => {
    const account = `${PRE_MISSING}-sa@demo-project.iam.gserviceaccount.com`;
    const result = await bench.withWorker(async (taskQueue) => (await (await bench.start(bench.spec(PRE_MISSING, { provisioning: 'pre-provisioned' }), taskQueue)).result()) as MigrationResult);
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('MissingRole');
    expect(result.rollback?.reason).toContain(`gcloud iam service-accounts create ${PRE_MISSING}-sa --project=demo-project`);
    expect(result.rollback?.reason).toContain(`--role=roles/aiplatform.user`);
    // The token-creator grant is not asked for: the demo orchestrator holds it project-wide (its sample jobs impersonate through it).
    expect(result.mutations.map((m) => m.kind).filter((k) => k !== 'key-restricted' && k !== 'key-restored')).toEqual([]);
    expect(await accountExists(account)).toBe(false);
  });

  it('when the operator made the account and its grants, then the migration uses them, records no IAM change, and rollback leaves them as they were', async () => {
    const accountId = `${PRE_MADE}-sa`;
    const account = `${accountId}@demo-project.iam.gserviceaccount.com`;
    const iam = bench.cloud.clients.iam;
    await iam.projects.serviceAccounts.create({ name: 'projects/demo-project', requestBody: { accountId } });
    const crm = bench.cloud.clients.resourceManager;
    const { data: policy } = await crm.projects.getIamPolicy({ resource: 'projects/demo-project', requestBody: {} });
    await crm.projects.setIamPolicy({ resource: 'projects/demo-project', requestBody: { policy: { ...policy, bindings: [...policy.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:${account}`] }] } } });
    await iam.projects.serviceAccounts.setIamPolicy({ resource: `projects/demo-project/serviceAccounts/${account}`, requestBody: { policy: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: [`serviceAccount:${DEMO_ORCHESTRATOR}`] }] } } });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(bench.spec(PRE_MADE, { provisioning: 'pre-provisioned', serviceAccount: { accountId, create: false } }), taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com' }] });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.mutations.map((m) => m.kind)).toEqual(['key-restricted', 'key-restored']);
    expect((result.dualRun as { passed: boolean }).passed).toBe(true);
    const { data: after } = await crm.projects.getIamPolicy({ resource: 'projects/demo-project', requestBody: { options: { requestedPolicyVersion: 3 } } });
    expect(after.bindings!.filter((b) => b.role === 'roles/aiplatform.user').flatMap((b) => b.members ?? [])).toContain(`serviceAccount:${account}`);
    expect(await accountExists(account)).toBe(true);
    recordScenario({ scenario: 'pre-provisioned mode', runs: 2, outcome: 'nothing made: missing account and grants named with their gcloud commands; operator-made ones used through the dual-run and left as they were by rollback' });
  });
});

describe('given a pipeline whose migration is running', () => {
  it('when a second migration of it is started, then it is refused, naming the running one, which goes on unchanged', async () => {
    const spec = bench.spec(DUPLICATE);
    const parsed = validateSpec(spec);
    if (!parsed.ok) throw new Error('the scenario spec is invalid');
    await bench.withWorker(async (taskQueue) => {
      const first = await bench.start(spec, taskQueue);
      await waitFor(() => first.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      const refused = await startMigration(bench.env.client, taskQueue, parsed.spec).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UserError);
      expect((refused as UserError).message).toBe(`a migration of ${DUPLICATE} is already running: workflow keyless/demo-project/${DUPLICATE}`);
      const running = await bench.env.client.workflow.getHandle(first.workflowId).describe();
      expect(running.runId).toBe(first.firstExecutionRunId);
      expect(running.status.name).toBe('RUNNING');
      expect((await first.query(statusQuery)).wait).toEqual({ kind: 'approval', stage: 'cutover' });
      await first.signal(rollbackSignal, { by: 'alice@example.com', reason: 'test over' });
      expect(((await first.result()) as MigrationResult).outcome).toBe('rolled-back');
    });

    recordScenario({ scenario: 'second migration of a running pipeline', runs: 1, outcome: 'refused naming the running workflow; the first went on unchanged' });
  });
});
