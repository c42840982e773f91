// The migration workflow end to end on the time-skipping server, with the real activities and
// Google's clients against the emulator: every stage, both approvals, and each way back.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, pauseSignal, promoteSignal, rejectUpdate, resumeSignal, rollbackSignal, statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { approveBoth, maybeRecordHistory, startMigrationBench, updateRefusal, waitFor, type MigrationBench } from '../support/migration-env';
import { decodedText } from '../support/reliability';
import { waitsForApproval } from '../../contracts/waits';
import { DEMO_ORCHESTRATOR } from '../../emulator';

const SCENARIOS = ['wf-held', 'wf-happy', 'wf-reject', 'wf-breach', 'wf-not-served', 'wf-delete', 'wf-pause', 'wf-guard', 'wf-invalid'];
let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(SCENARIOS);
});

afterAll(async () => {
  await bench?.stop();
});

async function keyOf(keyId: string) {
  const [key] = await bench.cloud.clients.apiKeys.getKey({ name: `projects/demo-project/locations/global/keys/${keyId}` });
  return key;
}

async function accountExists(email: string): Promise<boolean> {
  return bench.cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/demo-project/serviceAccounts/${email}` }).then(
    () => true,
    () => false,
  );
}

/** Everyone the account's own IAM policy names, any role. */
async function accountPolicyMembers(email: string): Promise<string[]> {
  const { data } = await bench.cloud.clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/demo-project/serviceAccounts/${email}` });
  return (data.bindings ?? []).flatMap((b) => b.members ?? []);
}

async function routePercent(pipeline: string): Promise<number | undefined> {
  const text = await readFile(join(bench.routesDir, 'demo-project', `${pipeline}.json`), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : JSON.parse(text).vertexPercent;
}

describe('migratePipeline', () => {
  it('given both approvals, migrates end to end: account created, role bound, route at 100%, key restricted', async () => {
    const spec = bench.spec('wf-happy');
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await approveBoth(bench, handle);
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('completed-migration', await handle.fetchHistory());
      return done;
    });
    expect(result.outcome).toBe('completed');
    expect(result.repair).toBe(false);
    const kinds = result.mutations.map((m) => m.kind);
    expect(kinds).toEqual(['key-restricted', 'account-created', 'role-granted', 'token-creator-granted', 'token-creator-removed', 'route-published', 'route-published', 'route-published', 'key-restricted']);
    // Least privilege: once the dual-run passed, the account's own policy no longer names the orchestrator.
    expect(await accountPolicyMembers('wf-happy-sa@demo-project.iam.gserviceaccount.com')).not.toContain(`serviceAccount:${DEMO_ORCHESTRATOR}`);
    expect(result.mutations.find((m) => m.kind === 'token-creator-granted')?.undoneAt).toBeDefined();
    expect(result.mutations.filter((m) => m.kind === 'route-published').every((m) => m.approvedBy === 'alice@example.com')).toBe(true);
    expect(result.mutations.at(-1)).toMatchObject({ kind: 'key-restricted', approvedBy: 'bob@example.com' });
    expect(await routePercent('wf-happy')).toBe(100);
    expect(await accountExists('wf-happy-sa@demo-project.iam.gserviceaccount.com')).toBe(true);
    const key = await keyOf('wf-happy');
    expect(key.restrictions?.apiTargets?.map((t) => t.service)).toEqual(['generativelanguage.googleapis.com']);
    expect((result.dualRun as { passed: boolean }).passed).toBe(true);
  });

  it('given a rejected cutover, rolls back: stopgap undone, account and binding removed, no route published', async () => {
    const spec = bench.spec('wf-reject');
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'carol@example.com', note: 'not during the release freeze' }] });
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('rolled-back-migration', await handle.fetchHistory());
      return done;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback).toMatchObject({ reason: 'cutover rejected by carol@example.com', failureType: 'Rejected' });
    // The token-creator grant was taken back after the dual-run; then undone newest first: the binding, the account, the stopgap.
    expect(result.mutations.map((m) => m.kind)).toEqual(['key-restricted', 'account-created', 'role-granted', 'token-creator-granted', 'token-creator-removed', 'role-removed', 'account-deleted', 'key-restored']);
    expect(result.mutations.slice(0, 4).every((m) => m.undoneAt)).toBe(true);
    expect(await routePercent('wf-reject')).toBeUndefined();
    expect(await accountExists('wf-reject-sa@demo-project.iam.gserviceaccount.com')).toBe(false);
    const key = await keyOf('wf-reject');
    expect(key.restrictions?.apiTargets ?? []).toEqual([]);
  });

  it('given Vertex errors during the second canary step, rolls the route back to 0%', async () => {
    const spec = bench.spec('wf-breach', {
      approvals: { cutover: false },
      canary: { steps: [{ percent: 10, bake: '1m', minRequests: 0 }, { percent: 50, bake: '2h' }, { percent: 100, bake: '1m' }], analysisInterval: '1m', minRequests: 5, maxErrorRateDelta: 0.1 },
    });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.stage === 'canary', 'canary');
      await bench.env.sleep('2m');
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 50 && s.canary?.step === 2, 'second step');
      // The pipeline's calls through Vertex start failing: a model this project cannot use.
      const asPipeline = bench.cloud.clientsAs('wf-breach-sa@demo-project.iam.gserviceaccount.com');
      const vertex = asPipeline.genai({ kind: 'vertex', project: 'demo-project', location: 'global' });
      for (let i = 0; i < 8; i++) await vertex.models.generateContent({ model: 'gemini-0-unknown', contents: 'hello' }).catch(() => undefined);
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('CanaryBreach');
    expect(result.rollback?.reason).toMatch(/^canary step 2 \(50%\)/);
    expect(result.canary.at(-1)).toMatchObject({ step: 2, verdict: 'breach' });
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.detail.split(': ')[1])).toEqual(['10% on Vertex', '50% on Vertex', '0% on Vertex']);
    expect(await routePercent('wf-breach')).toBe(0);
  });

  it('given a model Vertex does not serve in the location, rolls back before any route is published', async () => {
    const spec = bench.spec('wf-not-served', { vertex: { location: 'europe-west4', models: ['gemini-2.5-flash-lite'] } });
    const result = await bench.withWorker(async (taskQueue) => (await (await bench.start(spec, taskQueue)).result()) as MigrationResult);
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('ModelNotServed');
    expect(result.rollback?.reason).toMatch(/global|us-central1/);
    expect(result.mutations.some((m) => m.kind === 'route-published')).toBe(false);
    expect(await routePercent('wf-not-served')).toBeUndefined();
  });

  it('given a delete finalize, a rollback in the rollback window undeletes the key with its original restrictions', async () => {
    const spec = bench.spec('wf-delete', { approvals: { cutover: false, finalize: false }, finalize: { action: 'delete', rollbackWindow: '7d' } });
    const original = await keyOf('wf-delete');
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const status = await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.wait?.kind === 'rollback-window', 'rollback window', '1h');
      expect(status.mutations.at(-1)?.kind).toBe('key-deleted');
      expect((await keyOf('wf-delete')).deleteTime).toBeTruthy();
      await handle.signal(rollbackSignal, { by: 'dave@example.com', reason: 'a forgotten job still needs the key' });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    // Undone newest first: the key keyless deleted last comes back before traffic is routed to it.
    const undone = result.mutations.slice(result.mutations.findIndex((m) => m.kind === 'key-deleted') + 1);
    expect(undone.map((m) => m.kind)).toEqual(['key-undeleted', 'key-restored', 'route-published', 'role-removed', 'account-deleted']);
    expect(undone.every((m) => m.approvedBy === 'dave@example.com')).toBe(true);
    expect(result.mutations.filter((m) => m.kind !== 'key-undeleted' && m.kind !== 'key-restored' && m.kind !== 'role-removed' && m.kind !== 'account-deleted' && m.kind !== 'token-creator-removed' && !m.detail.endsWith(': 0% on Vertex')).every((m) => m.undoneAt)).toBe(true);
    const key = await keyOf('wf-delete');
    expect(key.deleteTime).toBeFalsy();
    expect(key.restrictions?.apiTargets ?? []).toEqual(original.restrictions?.apiTargets ?? []);
    expect(await routePercent('wf-delete')).toBe(0);
  });

  it('given a job still calling with the key during the soak, holds and names that traffic until an operator promotes', async () => {
    const spec = bench.spec('wf-held', {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 100, bake: '1m' }], analysisInterval: '10m' },
      soak: { duration: '2h' },
    });
    const [{ keyString }] = await bench.cloud.clients.apiKeys.getKeyString({ name: 'projects/demo-project/locations/global/keys/wf-held' });
    const legacyJob = bench.cloud.clients.genai({ kind: 'gemini', apiKey: keyString! });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.stage === 'soak', 'soak', '1m');
      // Let the soak take its baseline reading, then the forgotten job runs.
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 3; i++) await legacyJob.models.generateContent({ model: 'gemini-2.5-flash', contents: 'nightly export' });
      const held = await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.stage === 'held', 'held', '30m');
      expect(held.next).toMatch(/^held: the key still sees traffic/);
      await handle.signal(promoteSignal, { by: 'frank@example.com', note: 'the exporter is retired tonight' });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.soak?.keyRequests).toBe(3);
    expect(result.soak?.byMethod).toEqual([{ method: 'google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent', responseCode: '200', requests: 3 }]);
    expect(result.decisions.map((d) => [d.action, d.by])).toEqual([['promote', 'frank@example.com']]);
    expect(result.mutations.some((m) => m.kind === 'key-restricted' && m.detail.startsWith('finalize'))).toBe(true);
  });

  it('stops the bake clock on pause, restarts it on resume, and ends a bake on promote', async () => {
    const spec = bench.spec('wf-pause', {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 50, bake: '7d' }, { percent: 100, bake: '1s' }] },
    });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 50, 'first step');
      await handle.signal(pauseSignal, { by: 'erin' });
      const paused = await waitFor(() => handle.query(statusQuery), (s) => s.paused, 'paused');
      expect(paused.next).toMatch(/paused, send resume/);
      await handle.signal(resumeSignal, { by: 'erin' });
      await handle.signal(promoteSignal, { by: 'erin' });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.decisions.map((d) => d.action)).toEqual(['pause', 'resume', 'promote']);
  });

  it('refuses an approval at the wrong stage or malformed without changing state, and one from a stranger with a record of it', async () => {
    const spec = bench.spec('wf-guard', { approvals: { approvers: ['alice@example.com'], verify: 'none' } });
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      expect(await updateRefusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'finalize', by: 'alice@example.com' }] }))).toMatch(/stage finalize is not waiting/);
      expect(await updateRefusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: '' }] }))).toMatch(/by must name who acts/);
      expect(await updateRefusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'launch', by: 'alice@example.com' } as never] }))).toMatch(/stage must be one of: cutover, finalize/);
      expect((await handle.query(statusQuery)).refusals).toBeUndefined();
      // A stranger's approval is taken in so that it leaves a trace, then refused.
      const stranger = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'mallory@example.com' }] }).catch((e: unknown) => e);
      expect(stranger).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((stranger as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ApproverNotAllowed', message: expect.stringMatching(/^mallory@example.com is not in approvals.approvers/) });
      const status = await handle.query(statusQuery);
      expect(status.decisions).toEqual([]);
      expect(status.wait).toEqual({ kind: 'approval', stage: 'cutover' });
      expect(status.refusals).toMatchObject({ total: 1, recent: [{ action: 'approve', stage: 'cutover', by: 'mallory@example.com' }] });
      await handle.signal(rollbackSignal, { by: 'alice@example.com', reason: 'test over' });
      expect(((await handle.result()) as MigrationResult).outcome).toBe('rolled-back');
      await maybeRecordHistory('refused-approver-migration', await handle.fetchHistory());
    });
  });

  it('rolls back when nobody decides on the cutover within a 7-day deadline', async () => {
    const spec = bench.spec('wf-guard', { approvals: { deadline: '7d', onDeadline: 'rollback' } });
    const result = await bench.withWorker(async (taskQueue) => (await (await bench.start(spec, taskQueue)).result()) as MigrationResult);
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('ApprovalDeadline');
  });

  it('leaves no key string the emulator ever issued in any workflow history', async () => {
    const keyStrings = Object.values(bench.cloud.emulator.core.state.keys).map((k) => k.keyString);
    expect(keyStrings.length).toBeGreaterThan(SCENARIOS.length);
    const histories = await Promise.all([...new Set(bench.startedIds)].map((id) => bench.env.client.workflow.getHandle(id).fetchHistory()));
    const text = decodedText(histories);
    // The sweep must look at real content: the decoded payloads hold the key resource names.
    expect(text.includes('projects/demo-project/locations/global/keys/wf-happy')).toBe(true);
    for (const keyString of keyStrings) expect(text.includes(keyString), 'a key string leaked into a history').toBe(false);
  });

  it('fails fast on an invalid spec, naming each field, before any side effect', async () => {
    const failure = await bench.withWorker(async (taskQueue) =>
      (await bench.start({ ...bench.spec('wf-invalid'), canary: { steps: [{ percent: 50, bake: 'soon' }] } }, taskQueue)).result().catch((err: unknown) => err),
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as { type?: string; message: string };
    expect(cause.type).toBe('InvalidSpec');
    expect(cause.message).toMatch(/canary\.steps\[0\]\.bake/);
    expect(cause.message).toMatch(/canary\.steps\[0\]\.percent: the last canary step must be 100 percent/);
    expect((await keyOf('wf-invalid')).restrictions?.apiTargets ?? []).toEqual([]);
  });

  it('holds a spec started by hand to the duration limits (the CLI does too), naming the field', async () => {
    const failure = await bench.withWorker(async (taskQueue) =>
      (await bench.start({ ...bench.spec('wf-invalid'), canary: { steps: [{ percent: 100, bake: '3000d' }] } }, taskQueue)).result().catch((err: unknown) => err),
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as { type?: string; message: string };
    expect(cause.type).toBe('InvalidSpec');
    expect(cause.message).toMatch(/canary\.steps\[0\]\.bake: bake is at most 7d/);
    expect((await keyOf('wf-invalid')).restrictions?.apiTargets ?? []).toEqual([]);
  });
});
