// A migration test bench: the time-skipping Temporal server, the emulator with the demo estate
// plus one key per scenario, and a worker with the real activities and Google's clients.

import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { expect } from 'vitest';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { approveUpdate, statusQuery } from '../../contracts/messages';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import { waitsForApproval } from '../../contracts/waits';
import type { PipelineSpecInput } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION, type demoFixtureInput } from '../../emulator';
import type { DemoOptions } from '../../emulator/core/demo';
import { startTestCloud, type TestCloud } from './cloud';
import { startLocalTestServer, startTimeSkippingServer, uniqueTaskQueue, workflowBundle } from './temporal';

export interface MigrationBench {
  env: TestWorkflowEnvironment;
  cloud: TestCloud;
  routesDir: string;
  /**
   * A spec for a scenario's own pipeline and key (`<pipeline>` is also the key id). Scenarios make
   * no pipeline traffic unless they are about the canary's evidence, so their steps advance on the
   * bake alone (canary.minRequests 0) and their soak passes without a run (soak.minVertexRequests
   * 0), unless the overrides say otherwise.
   */
  spec(pipeline: string, overrides?: Partial<PipelineSpecInput>): PipelineSpecInput;
  /** Runs `fn` while a worker with the real activities polls a fresh task queue. */
  withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T>;
  start(spec: PipelineSpecInput, taskQueue: string): ReturnType<TestWorkflowEnvironment['client']['workflow']['start']>;
  /** Every workflow id this bench started, for sweeps over their histories. */
  startedIds: string[];
  /** Polls a condition while skipping workflow time in `step`s, for stages behind long timers. */
  waitSkipping<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, step?: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts the bench with an unrestricted key for each named scenario pipeline. */
export async function startMigrationBench(
  pipelines: string[],
  estate: DemoOptions & {
    sharedKeys?: Record<string, string[]>;
    /** The dev server (real time, real limits) instead of time skipping. */
    server?: 'time-skipping' | 'dev';
    /** More of the estate: accounts, Cloud Run jobs, pools. */
    tweak?: (fixture: ReturnType<typeof demoFixtureInput>) => void;
  } = {},
): Promise<MigrationBench> {
  const env = estate.server === 'dev' ? await startLocalTestServer() : await startTimeSkippingServer();
  const cloud = await startTestCloud({
    ...estate,
    tweak: (fixture) => {
      for (const pipeline of pipelines) {
        fixture.keys!.push({ project: 'demo-project', keyId: pipeline, displayName: `${pipeline} (test)`, annotations: { [PIPELINE_ANNOTATION]: pipeline } });
      }
      // Keys several pipelines use, named in one annotation as a real audit would find them.
      for (const [keyId, users] of Object.entries(estate.sharedKeys ?? {})) {
        fixture.keys!.push({ project: 'demo-project', keyId, displayName: `${keyId} (shared)`, annotations: { [PIPELINE_ANNOTATION]: users.join(',') } });
      }
      estate.tweak?.(fixture);
    },
  });
  const routesDir = await mkdtemp(join(tmpdir(), 'keyless-routes-'));
  const bundle = await workflowBundle();
  const activities = createActivities({ clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  const started: string[] = [];
  const startedIds: string[] = [];

  return {
    env,
    cloud,
    routesDir,
    startedIds,
    spec(pipeline, overrides = {}) {
      return {
        pipeline,
        project: 'demo-project',
        apiKey: `projects/demo-project/locations/global/keys/${pipeline}`,
        serviceAccount: { accountId: `${pipeline}-sa`.slice(0, 30) },
        vertex: { models: ['gemini-2.5-flash'] },
        route: { store: `file://${routesDir}` },
        ...overrides,
        canary: { minRequests: 0, ...overrides.canary },
        soak: { minVertexRequests: 0, ...overrides.soak },
      };
    },
    async withWorker(fn) {
      const taskQueue = uniqueTaskQueue();
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
      try {
        return await worker.runUntil(fn(taskQueue));
      } finally {
        // A failed test must not leave a migration running: it would hold the shared clock.
        for (const workflowId of started.splice(0)) await env.client.workflow.getHandle(workflowId).terminate('test ended').catch(() => undefined);
      }
    },
    async start(spec, taskQueue) {
      const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
      started.push(workflowId);
      startedIds.push(workflowId);
      return env.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId, args: [spec] });
    },
    async waitSkipping(read, done, what, step = '10m') {
      for (let i = 0; i < 400; i++) {
        const value = await read().catch(() => undefined);
        if (value !== undefined && done(value)) return value;
        await env.sleep(step);
      }
      throw new Error(`${what} not reached`);
    },
    async stop() {
      await env?.teardown();
      await cloud?.stop();
    },
  };
}

/** Approves the cutover, then, skipping workflow time through the canary and the soak, the finalize. */
export async function approveBoth(bench: MigrationBench, handle: WorkflowHandle, by = { cutover: 'alice@example.com', finalize: 'bob@example.com' }): Promise<void> {
  await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
  await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: by.cutover }] });
  await bench.waitSkipping(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'finalize'), 'finalize approval', '1h');
  await handle.executeUpdate(approveUpdate, { args: [{ stage: 'finalize', by: by.finalize }] });
}

/** The refusal message of an update that must be refused (fails the test when it was accepted). */
export async function updateRefusal(update: Promise<unknown>): Promise<string> {
  const err = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the update was accepted').toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

/** Polls until `done` holds (real time; time skipping is off while a test is not awaiting a result). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what = 'condition'): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && done(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached`);
}

/**
 * Writes a history for the replay suite when KEYLESS_RECORD_HISTORIES names a folder. The SDK's
 * historyToJSON cannot run here (npm keeps two copies of protobufjs 8 beside Google's protobufjs
 * 7), so histories are kept in protobufjs's own JSON form, which History.fromObject reads back.
 */
export async function maybeRecordHistory(name: string, history: temporal.api.history.v1.IHistory): Promise<void> {
  const folder = process.env.KEYLESS_RECORD_HISTORIES;
  if (!folder) return;
  await mkdir(folder, { recursive: true });
  const json = temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(history), { longs: String, enums: String, bytes: String });
  await writeFile(join(folder, `${name}.json`), `${JSON.stringify(json, null, 1)}\n`);
}
