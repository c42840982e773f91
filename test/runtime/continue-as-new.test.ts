// Long bakes must not grow a history without bound: when the server suggests it, the migration
// continues as new carrying its state, and finishes as if nothing happened. The dev server is
// told to suggest it early (after 60 events) so a short canary crosses the threshold.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { MigrationResult } from '../../contracts/status';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { createKeylessWorker } from '../../worker/worker';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { uniqueTaskQueue, workflowBundle } from '../support/temporal';

let server: DevServer;
let cloud: TestCloud;
let connection: Connection;
let routesDir: string;

beforeAll(async () => {
  server = await startDevServer({ headless: true, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } });
  cloud = await startTestCloud();
  connection = await Connection.connect({ address: server.address });
  routesDir = await mkdtemp(join(tmpdir(), 'keyless-can-routes-'));
});

afterAll(async () => {
  await connection?.close();
  await server?.stop();
  await cloud?.stop();
});

describe('given a history the server finds too long', () => {
  it('when the canary keeps analysing, then the migration continues as new and completes with its whole record', async () => {
    const client = new Client({ connection });
    const taskQueue = uniqueTaskQueue('can');
    const native = await NativeConnection.connect({ address: server.address });
    const worker = await createKeylessWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activityDeps: { clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR },
    });
    try {
      const result = await worker.runUntil(async () => {
        const handle = await client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, {
          taskQueue,
          workflowId: migrationWorkflowId('demo-project', 'nightly-summarizer'),
          args: [
            {
              pipeline: 'nightly-summarizer',
              project: 'demo-project',
              apiKey: 'projects/demo-project/locations/global/keys/nightly-summarizer',
              serviceAccount: { accountId: 'nightly-summarizer' },
              vertex: { models: ['gemini-2.5-flash'] },
              canary: { steps: [{ percent: 50, bake: '4s' }, { percent: 100, bake: '4s' }], analysisInterval: '200ms' },
              soak: { duration: '1s' },
              approvals: { cutover: false, finalize: false },
              route: { store: `file://${routesDir}` },
            },
          ],
        });
        const done = (await handle.result()) as MigrationResult;
        return { done, firstRunId: handle.firstExecutionRunId, lastRunId: (await handle.describe()).runId };
      });
      expect(result.lastRunId).not.toBe(result.firstRunId);
      expect(result.done.outcome).toBe('completed');
      // The record survived the hand-over: all routes published, analyses from both steps.
      expect(result.done.mutations.filter((m) => m.kind === 'route-published').map((m) => m.detail.split(': ')[1])).toEqual(['50% on Vertex', '100% on Vertex']);
      expect(new Set(result.done.canary.map((a) => a.step))).toEqual(new Set([1, 2]));
      expect(result.done.mutations.filter((m) => m.kind === 'account-created')).toHaveLength(1);
      expect(JSON.parse(await readFile(join(routesDir, 'nightly-summarizer.json'), 'utf8')).vertexPercent).toBe(100);
    } finally {
      await native.close();
    }
  });
});
