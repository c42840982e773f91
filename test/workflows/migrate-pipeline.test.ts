// The migration workflow on the time-skipping server with the real activities: approvals,
// deadlines, canary bakes and rollback of the route.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { approveUpdate, pauseSignal, promoteSignal, rejectUpdate, resumeSignal, rollbackSignal, statusQuery } from '../../contracts/messages';
import { MIGRATE_PIPELINE_WORKFLOW } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import { startTimeSkippingServer, uniqueTaskQueue, workflowBundle } from '../support/temporal';

let env: TestWorkflowEnvironment;
let routesDir: string;

beforeAll(async () => {
  env = await startTimeSkippingServer();
  routesDir = await mkdtemp(join(tmpdir(), 'keyless-routes-'));
});

afterAll(async () => {
  await env?.teardown();
});

function spec(pipeline: string, overrides: Partial<PipelineSpecInput> = {}): PipelineSpecInput {
  return {
    pipeline,
    project: 'demo-project',
    apiKey: `projects/demo-project/locations/global/keys/${pipeline}-key`,
    serviceAccount: { accountId: `${pipeline}-sa` },
    vertex: { models: ['gemini-2.5-flash'] },
    route: { store: `file://${routesDir}` },
    ...overrides,
  };
}

async function withWorker<T>(taskQueue: string, fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(),
  });
  return worker.runUntil(fn());
}

async function routeOf(pipeline: string) {
  return JSON.parse(await readFile(join(routesDir, `${pipeline}.json`), 'utf8'));
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

/** The validator's message when an update is refused. */
async function refusal(update: Promise<unknown>): Promise<string> {
  const err = await update.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

describe('migratePipeline', () => {
  it('rolls back when nobody decides on the cutover within a 7-day deadline', async () => {
    const taskQueue = uniqueTaskQueue();
    const result = await withWorker(taskQueue, () =>
      env.client.workflow.execute(MIGRATE_PIPELINE_WORKFLOW, {
        taskQueue,
        workflowId: `deadline-${taskQueue}`,
        args: [spec('deadline-job', { approvals: { deadline: '7d', onDeadline: 'rollback' } })],
      }),
    ) as MigrationResult;
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('ApprovalDeadline');
    expect(result.mutations).toEqual([]);
  });

  it('publishes each canary step after approval and ends at 100% on Vertex', async () => {
    const taskQueue = uniqueTaskQueue();
    const result = await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId: `happy-${taskQueue}`, args: [spec('happy-job')] });
      await waitFor(() => handle.query(statusQuery), (s) => s.waitingFor === 'approve(stage: cutover)');
      const receipt = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com' }] });
      expect(receipt.decision).toBe('approved');
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.mutations.map((m) => m.detail.split(': ')[1])).toEqual(['10% on Vertex', '50% on Vertex', '100% on Vertex']);
    expect(result.mutations.every((m) => m.approvedBy === 'alice@example.com')).toBe(true);
    const route = await routeOf('happy-job');
    expect(route.vertexPercent).toBe(100);
    expect(route.serviceAccount).toBe('happy-job-sa@demo-project.iam.gserviceaccount.com');
  });

  it('refuses an approval for a stage that is not waiting, and one from outside the approvers, without changing state', async () => {
    const taskQueue = uniqueTaskQueue();
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, {
        taskQueue,
        workflowId: `refuse-${taskQueue}`,
        args: [spec('guarded-job', { approvals: { approvers: ['alice@example.com'] } })],
      });
      await waitFor(() => handle.query(statusQuery), (s) => s.waitingFor === 'approve(stage: cutover)');
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'finalize', by: 'alice@example.com' }] }))).toMatch(/stage finalize is not waiting/);
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'mallory@example.com' }] }))).toMatch(/not in approvals.approvers/);
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: '' }] }))).toMatch(/by must name who acts/);
      expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'launch', by: 'alice@example.com' } as never] }))).toMatch(/stage must be one of: cutover, finalize/);
      const status = await handle.query(statusQuery);
      expect(status.decisions).toEqual([]);
      expect(status.waitingFor).toBe('approve(stage: cutover)');
      await handle.executeUpdate(rejectUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com', note: 'not this week' }] });
      const result = (await handle.result()) as MigrationResult;
      expect(result.outcome).toBe('rolled-back');
      expect(result.rollback?.reason).toBe('cutover rejected by alice@example.com');
    });
  });

  it('rolls the route back to the key when an operator asks mid-canary', async () => {
    const taskQueue = uniqueTaskQueue();
    const result = await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, {
        taskQueue,
        workflowId: `rollback-${taskQueue}`,
        args: [spec('rollback-job', { approvals: { cutover: false } })],
      });
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 10);
      await handle.signal(rollbackSignal, { by: 'bob@example.com', reason: 'latency doubled' });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback).toMatchObject({ reason: 'latency doubled', by: 'bob@example.com' });
    expect(result.mutations.at(-1)?.detail).toMatch(/: 0% on Vertex$/);
    expect((await routeOf('rollback-job')).vertexPercent).toBe(0);
  });

  it('stops the bake clock on pause, restarts it on resume, and ends a bake on promote', async () => {
    const taskQueue = uniqueTaskQueue();
    const result = await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, {
        taskQueue,
        workflowId: `pause-${taskQueue}`,
        args: [spec('paused-job', { approvals: { cutover: false }, canary: { steps: [{ percent: 50, bake: '365d' }, { percent: 100, bake: '1s' }] } })],
      });
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 50);
      await handle.signal(pauseSignal, { by: 'carol' });
      const paused = await waitFor(() => handle.query(statusQuery), (s) => s.paused);
      expect(paused.next).toMatch(/paused/);
      await handle.signal(resumeSignal, { by: 'carol' });
      await handle.signal(promoteSignal, { by: 'carol' });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.decisions.map((d) => d.action)).toEqual(['pause', 'resume', 'promote']);
  });

  it('fails fast on an invalid spec, naming each field, before any side effect', async () => {
    const taskQueue = uniqueTaskQueue();
    const failure = await withWorker(taskQueue, () =>
      env.client.workflow.execute(MIGRATE_PIPELINE_WORKFLOW, {
        taskQueue,
        workflowId: `invalid-${taskQueue}`,
        args: [{ ...spec('bad-job'), canary: { steps: [{ percent: 50, bake: 'soon' }] } }],
      }).catch((err) => err),
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as { type?: string; message: string };
    expect(cause.type).toBe('InvalidSpec');
    expect(cause.message).toMatch(/canary\.steps\[0\]\.bake/);
    expect(cause.message).toMatch(/canary\.steps\[0\]\.percent: the last canary step must be 100 percent/);
  });
});
