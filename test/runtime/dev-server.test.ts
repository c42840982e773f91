// The runtime end to end on the pinned Temporal CLI dev server: a migration started through the
// CLI's functions, approved by an update, run by a real worker, and a duplicate start refused.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigration, awaitMigration } from '../../client/commands/migrate';
import { listMigrations, migrationStatus, sendDecision } from '../../client/migrations';
import { UserError } from '../../client/errors';
import { validateSpec, type PipelineSpec } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import type { DevServer } from '../../worker/dev-server';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestDevServer, withKeylessWorker } from '../support/temporal';

let server: DevServer;
let cloud: TestCloud;
let connection: Connection;
let client: Client;
let routesDir: string;

beforeAll(async () => {
  server = await startTestDevServer();
  cloud = await startTestCloud();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  routesDir = await mkdtemp(join(tmpdir(), 'keyless-dev-routes-'));
});

afterAll(async () => {
  await connection?.close();
  await server?.stop();
  await cloud?.stop();
});

function spec(pipeline: string): PipelineSpec {
  const result = validateSpec({
    pipeline,
    project: 'demo-project',
    apiKey: 'projects/demo-project/locations/global/keys/nightly-summarizer',
    serviceAccount: { accountId: 'nightly-summarizer' },
    vertex: { models: ['gemini-2.5-flash'] },
    // No pipeline runs here: steps advance on their bake, the soak passes without a run.
    canary: { steps: [{ percent: 25, bake: '1s' }, { percent: 100, bake: '1s' }], analysisInterval: '1s', minRequests: 0 },
    soak: { duration: '1s', minVertexRequests: 0 },
    approvals: { finalize: false },
    route: { store: `file://${routesDir}` },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.spec;
}

describe('given the dev server and a keyless worker', () => {
  it('when a migration is started and its cutover approved, then it completes with the route at 100%', async () => {
    await withKeylessWorker(server.address, { clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR }, 'dev', async (taskQueue) => {
      const s = spec('nightly-summarizer');
      const started = await startMigration(client, taskQueue, s);
      expect(started.workflowId).toBe(`keyless/demo-project/${s.pipeline}`);

      const duplicate = await startMigration(client, taskQueue, s).catch((err: unknown) => err);
      expect(duplicate).toBeInstanceOf(UserError);
      expect((duplicate as UserError).message).toBe(`a migration of ${s.pipeline} is already running: workflow ${started.workflowId}`);

      for (let i = 0; i < 300; i++) {
        const status = await migrationStatus(client, { pipeline: s.pipeline, project: s.project });
        if (status.wait) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const receipt = await sendDecision(client, { pipeline: s.pipeline, project: s.project }, 'approve', { stage: 'cutover', by: 'alice@example.com' });
      expect(receipt).toMatchObject({ stage: 'cutover', decision: 'approved', by: 'alice@example.com' });

      const result = await awaitMigration(client, started.workflowId);
      expect(result.outcome).toBe('completed');
      const route = JSON.parse(await readFile(join(routesDir, s.project, `${s.pipeline}.json`), 'utf8'));
      expect(route).toMatchObject({ pipeline: s.pipeline, vertexPercent: 100, location: 'global' });

      let listed = await listMigrations(client, { stage: 'completed' });
      for (let i = 0; i < 50 && !listed.some((l) => l.workflowId === started.workflowId); i++) {
        await new Promise((r) => setTimeout(r, 100));
        listed = await listMigrations(client, { stage: 'completed' });
      }
      expect(listed.find((l) => l.workflowId === started.workflowId)).toMatchObject({ pipeline: s.pipeline, project: 'demo-project', status: 'COMPLETED' });

      const described = await client.workflow.getHandle(started.workflowId).describe();
      expect(described.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
        expect.arrayContaining([['KeylessStage', 'completed'], ['KeylessPipeline', s.pipeline], ['KeylessProject', 'demo-project']]),
      );
    });
  });
});
