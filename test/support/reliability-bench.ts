// The stage the crash and restart scenarios play on: the emulator with one key per pipeline, a dev
// server on a SQLite file (so it can be restarted), a prebuilt workflow bundle with the kill switch,
// and worker processes that can be killed, each on its own task queue.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../../contracts/messages';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { startTestCloud, type TestCloud } from './cloud';
import { setFaults, type CloudSurface, type FaultInput } from './failures';
import { auditLog, decodedText, workerProcess, writeWorkflowBundle, type AuditEntry, type WorkerProcess } from './reliability';
import { uniqueTaskQueue } from './temporal';

export const PROJECT = 'demo-project';

export interface ReliabilityBench {
  dir: string;
  cloud: TestCloud;
  server: DevServer;
  client: Client;
  /** A worker process on a task queue of its own; its output goes to `<dir>/<label>.log`. */
  newWorker(label: string): { worker: WorkerProcess; taskQueue: string };
  spec(pipeline: string, overrides: Partial<PipelineSpecInput>): PipelineSpecInput;
  start(spec: PipelineSpecInput, taskQueue: string, options?: { workflowTaskTimeout?: string }): Promise<WorkflowHandle>;
  status(pipeline: string): Promise<MigrationStatus>;
  /** Replaces a surface's faults (PUT semantics: unnamed settings return to their defaults). */
  setFault(surface: CloudSurface, fault: FaultInput): Promise<void>;
  /** Stops the server and starts one on the same port and SQLite file; reconnects the client. */
  restartServer(): Promise<void>;
  /** The worker logs written so far and every history of the bench's migrations, as one text. */
  logsAndHistories(): Promise<string>;
  stop(): Promise<void>;
}

export async function startReliabilityBench(pipelines: string[]): Promise<ReliabilityBench> {
  const dir = await mkdtemp(join(tmpdir(), 'keyless-reliability-'));
  const dbFile = join(dir, 'temporal.db');
  const logFile = join(dir, 'temporal.log');
  const cloud = await startTestCloud({
    tweak: (fixture) => {
      for (const pipeline of pipelines) {
        fixture.keys!.push({ project: PROJECT, keyId: pipeline, displayName: `${pipeline} (test)`, annotations: { [PIPELINE_ANNOTATION]: pipeline } });
      }
    },
  });
  const [firstServer, bundlePath, googleEnv] = await Promise.all([
    startDevServer({ headless: true, dbFile, logFile }),
    writeWorkflowBundle(dir),
    cloud.emulator.envFor(DEMO_ORCHESTRATOR),
  ]);
  let server = firstServer;
  let connection = await Connection.connect({ address: server.address });
  const workers: Array<{ worker: WorkerProcess; logFile: string }> = [];
  const workflowIds = new Set<string>();

  const bench: ReliabilityBench = {
    dir,
    cloud,
    get server() {
      return server;
    },
    client: new Client({ connection }),
    newWorker(label) {
      const taskQueue = uniqueTaskQueue(label);
      const workerLog = join(dir, `${label}.log`);
      const worker = workerProcess({ temporalAddress: server.address, taskQueue, bundlePath, googleEnv, orchestratorEmail: DEMO_ORCHESTRATOR, logFile: workerLog });
      workers.push({ worker, logFile: workerLog });
      return { worker, taskQueue };
    },
    spec(pipeline, overrides) {
      return {
        pipeline,
        project: PROJECT,
        apiKey: `projects/${PROJECT}/locations/global/keys/${pipeline}`,
        serviceAccount: { accountId: `${pipeline}-sa`.slice(0, 30) },
        vertex: { models: ['gemini-2.5-flash'] },
        route: { store: `file://${join(dir, 'routes')}` },
        // restrict-ip makes finalize a change of its own, distinct from the stopgap's restriction.
        finalize: { action: 'restrict-ip', allowedIps: ['203.0.113.7'] },
        ...overrides,
        // No pipeline traffic here: steps advance on their bake, the soak passes without a run.
        canary: { minRequests: 0, ...overrides?.canary },
        soak: { duration: '1s', minVertexRequests: 0, ...overrides?.soak },
      };
    },
    async start(spec, taskQueue, options = {}) {
      const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
      workflowIds.add(workflowId);
      return bench.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId, args: [spec], ...options });
    },
    status: (pipeline) => bench.client.workflow.getHandle(migrationWorkflowId(PROJECT, pipeline)).query(statusQuery),
    setFault: (surface, fault) => setFaults(cloud.emulator.baseUrl, [surface], fault),
    async restartServer() {
      const port = Number(server.address.split(':')[1]);
      await server.stop();
      server = await startDevServer({ headless: true, dbFile, port, logFile });
      await connection.close().catch(() => undefined);
      connection = await Connection.connect({ address: server.address });
      bench.client = new Client({ connection });
    },
    async logsAndHistories() {
      const logs = await Promise.all(workers.map((w) => readFile(w.logFile, 'utf8').catch(() => '')));
      const histories = await Promise.all([...workflowIds].map((id) => bench.client.workflow.getHandle(id).fetchHistory()));
      return `${logs.join('\n')}\n${decodedText(histories)}`;
    },
    async stop() {
      for (const { worker } of workers) await worker.stop();
      await connection.close().catch(() => undefined);
      await server.stop();
      await cloud.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return bench;
}

/** The mutations of one pipeline in the audit log, successful ones only (a refused retry changed nothing). */
export function mutationsOf(entries: AuditEntry[], pipeline: string, accountEmail: string) {
  const ok = entries.filter((e) => e.status >= 200 && e.status < 300);
  return {
    // Google's create request names the project only; the account id is in the body.
    accountCreates: ok.filter((e) => e.method === 'POST' && new RegExp(`/v1/projects/${PROJECT}/serviceAccounts$`).test(e.path)),
    projectPolicySets: ok.filter((e) => e.method === 'POST' && e.path.endsWith(`/projects/${PROJECT}:setIamPolicy`)),
    accountPolicySets: ok.filter((e) => e.method === 'POST' && accountEmail !== '' && e.path.includes(`/serviceAccounts/${accountEmail}:setIamPolicy`)),
    keyPatches: ok.filter((e) => e.method === 'PATCH' && e.path.endsWith(`/keys/${pipeline}`)),
  };
}

export { auditLog };

export async function routeFile(dir: string, pipeline: string): Promise<{ generation: number; vertexPercent: number }> {
  return JSON.parse(await readFile(join(dir, 'routes', 'demo-project', `${pipeline}.json`), 'utf8'));
}

/** The route generations a migration published, in order. */
export function routeGenerations(result: MigrationResult): number[] {
  return result.mutations.filter((m) => m.kind === 'route-published').map((m) => Number(/generation (\d+)/.exec(m.detail)?.[1]));
}
