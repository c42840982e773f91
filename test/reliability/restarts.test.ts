// Crashes and restarts: a keyless worker SIGKILLed mid-migration, and the Temporal dev server
// stopped and started again on its SQLite file. Every migration must complete, an approval sent
// after a restart must be honoured, and the emulator's audit log must show each mutation once.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendDecision } from '../../client/commands/operate';
import { statusQuery } from '../../contracts/messages';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { auditLog, formatScenarioTable, pollUntil, workerProcess, writeWorkflowBundle, type AuditEntry, type ScenarioRow, type WorkerProcess } from '../support/reliability';
import { uniqueTaskQueue } from '../support/temporal';

const KILLED = 'rel-worker-killed';
const RESTARTED = 'rel-server-restart';
const PROJECT = 'demo-project';

let dir: string;
let dbFile: string;
let server: DevServer;
let cloud: TestCloud;
let connection: Connection;
let client: Client;
let bundlePath: string;
let googleEnv: Record<string, string>;
const workers: WorkerProcess[] = [];
const table: ScenarioRow[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-reliability-'));
  dbFile = join(dir, 'temporal.db');
  cloud = await startTestCloud({
    tweak: (fixture) => {
      for (const pipeline of [KILLED, RESTARTED]) {
        fixture.keys!.push({ project: PROJECT, keyId: pipeline, displayName: `${pipeline} (test)`, annotations: { [PIPELINE_ANNOTATION]: pipeline } });
      }
    },
  });
  [server, bundlePath, googleEnv] = await Promise.all([
    startDevServer({ headless: true, dbFile, logFile: join(dir, 'temporal.log') }),
    writeWorkflowBundle(dir),
    cloud.emulator.envFor(DEMO_ORCHESTRATOR),
  ]);
  await connectClient();
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await connection?.close();
  await server?.stop();
  await cloud?.stop();
  if (table.length) console.log(`\nreliability: crashes and restarts\n${formatScenarioTable(table)}\n`);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function connectClient(): Promise<void> {
  await connection?.close().catch(() => undefined);
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
}

function newWorker(label: string): { worker: WorkerProcess; taskQueue: string } {
  const taskQueue = uniqueTaskQueue(label);
  const worker = workerProcess({
    temporalAddress: server.address,
    taskQueue,
    bundlePath,
    googleEnv,
    orchestratorEmail: DEMO_ORCHESTRATOR,
    logFile: join(dir, `${label}.log`),
  });
  workers.push(worker);
  return { worker, taskQueue };
}

function specFor(pipeline: string, overrides: Partial<PipelineSpecInput>): PipelineSpecInput {
  return {
    pipeline,
    project: PROJECT,
    apiKey: `projects/${PROJECT}/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: `${pipeline}-sa`.slice(0, 30) },
    vertex: { models: ['gemini-2.5-flash'] },
    route: { store: `file://${join(dir, 'routes')}` },
    soak: { duration: '1s' },
    // restrict-ip makes finalize a change of its own, distinct from the stopgap's restriction.
    finalize: { action: 'restrict-ip', allowedIps: ['203.0.113.7'] },
    ...overrides,
  };
}

async function startMigration(spec: PipelineSpecInput, taskQueue: string): Promise<WorkflowHandle> {
  return client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId: migrationWorkflowId(spec.project, spec.pipeline), args: [spec] });
}

const status = (workflowId: string) => client.workflow.getHandle(workflowId).query(statusQuery);

async function setLatency(surface: string, latencyMs: number): Promise<void> {
  const response = await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults/${surface}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs }) });
  expect(response.ok).toBe(true);
}

/** The mutations of one pipeline in the audit log, successful ones only (a refused retry changed nothing). */
function mutationsOf(entries: AuditEntry[], pipeline: string, accountEmail: string) {
  const ok = entries.filter((e) => e.status >= 200 && e.status < 300);
  return {
    // Google's create request names the project only; the account id is in the body.
    accountCreates: ok.filter((e) => e.method === 'POST' && /\/v1\/projects\/demo-project\/serviceAccounts$/.test(e.path)),
    projectPolicySets: ok.filter((e) => e.method === 'POST' && /\/projects\/demo-project:setIamPolicy$/.test(e.path)),
    accountPolicySets: ok.filter((e) => e.method === 'POST' && e.path.includes(`/serviceAccounts/${accountEmail}:setIamPolicy`)),
    keyPatches: ok.filter((e) => e.method === 'PATCH' && e.path.endsWith(`/keys/${pipeline}`)),
  };
}

async function routeFile(pipeline: string): Promise<{ generation: number; vertexPercent: number }> {
  return JSON.parse(await readFile(join(dir, 'routes', `${pipeline}.json`), 'utf8'));
}

function routeGenerations(result: MigrationResult): number[] {
  return result.mutations.filter((m) => m.kind === 'route-published').map((m) => Number(/generation (\d+)/.exec(m.detail)?.[1]));
}

describe('given a migration whose worker is killed', () => {
  it('when the worker is SIGKILLed in provision, in the dual-run and in a canary bake, then the migration completes with each mutation once', async () => {
    const { worker, taskQueue } = newWorker('killed');
    const auditBefore = (await auditLog(cloud.emulator.baseUrl)).length;
    // Slow admin writes and model calls so the kills land inside the stages, not between them.
    await Promise.all([setLatency('resourcemanager', 1_500), setLatency('gemini', 300), setLatency('vertex', 300)]);
    const steps = [
      { percent: 25, bake: '4s' },
      { percent: 100, bake: '3s' },
    ];
    const spec = specFor(KILLED, {
      approvals: { cutover: false, finalize: false },
      // One analysis per bake, so the kill mid-bake lands on the bake's timer rather than on a read.
      canary: { steps, analysisInterval: '4s' },
      dualRun: { prompts: [{ text: 'Reply with the single word: ready' }, { text: 'Name one primary colour.' }, { text: 'Say hello.' }], samples: 2 },
    });
    const workflowId = migrationWorkflowId(PROJECT, KILLED);
    await worker.start();
    const handle = await startMigration(spec, taskQueue);

    const kills: string[] = [];
    const recoverySeconds: string[] = [];
    /** Kills the worker once `reached` holds, starts a new one and waits until the stage is left. */
    const killAt = async (what: string, reached: (s: MigrationStatus) => boolean, left: (s: MigrationStatus) => boolean) => {
      await pollUntil(() => status(workflowId), reached, what, 180_000, 50);
      await worker.kill();
      const killedAt = Date.now();
      kills.push(what);
      await worker.start();
      await pollUntil(() => status(workflowId), left, `${what} left after the kill`, 240_000, 200);
      recoverySeconds.push(`${what} ${((Date.now() - killedAt) / 1000).toFixed(0)} s`);
    };
    // The sharpest point: the binding is written but the activity that wrote it has not reported
    // back, so its retry on the next worker must find the binding rather than add it again.
    const bindingWritten = async () =>
      mutationsOf((await auditLog(cloud.emulator.baseUrl)).slice(auditBefore), KILLED, '').projectPolicySets.length > 0;
    await pollUntil(bindingWritten, (written) => written, 'project binding written', 180_000, 50);
    await killAt('provision', (s) => s.stage === 'provision', (s) => s.stage !== 'provision');
    await killAt('dual-run', (s) => s.stage === 'dual-run', (s) => s.stage !== 'dual-run');
    await killAt(
      'canary bake',
      // `baking until` is published once the step's baseline is read: the workflow then sleeps.
      (s) => s.stage === 'canary' && s.canary?.step === 1 && s.vertexPercent === 25 && s.next.includes('baking until'),
      (s) => s.stage !== 'canary' || (s.canary?.step ?? 0) > 1,
    );
    await Promise.all([setLatency('resourcemanager', 0), setLatency('gemini', 0), setLatency('vertex', 0)]);

    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(kills).toHaveLength(3);
    expect(worker.starts).toBe(4);

    const account = result.mutations.find((m) => m.kind === 'account-created');
    expect(account).toBeDefined();
    const audit = mutationsOf((await auditLog(cloud.emulator.baseUrl)).slice(auditBefore), KILLED, account!.target);
    expect(audit.accountCreates).toHaveLength(1);
    expect(audit.projectPolicySets).toHaveLength(1);
    // One restriction by the stopgap, one by finalize; a retried activity must not write again.
    expect(result.mutations.filter((m) => m.kind === 'key-restricted').map((m) => m.detail.split(':')[0])).toEqual(['stopgap', 'finalize']);
    expect(audit.keyPatches).toHaveLength(2);
    expect(result.mutations.filter((m) => m.kind === 'role-granted')).toHaveLength(1);

    // The dual-run resumed from its heartbeat: one sample per prompt and repeat, none doubled or lost.
    const dualRun = result.dualRun as { passed: boolean; samples: unknown[] };
    expect(dualRun.passed).toBe(true);
    expect(dualRun.samples).toHaveLength(3 * 2);

    const generations = routeGenerations(result);
    expect(generations).toHaveLength(steps.length);
    expect(new Set(generations).size).toBe(steps.length);
    expect([...generations].sort((a, b) => a - b)).toEqual(generations);
    expect(await routeFile(KILLED)).toMatchObject({ generation: generations.at(-1), vertexPercent: 100 });

    table.push({
      scenario: 'worker SIGKILL (provision, dual-run, canary bake)',
      runs: kills.length,
      outcome: `${result.outcome}; audit: ${audit.accountCreates.length} account create, ${audit.projectPolicySets.length} project binding, ${generations.length} route generations for ${steps.length} steps, ${audit.keyPatches.length} key PATCH (stopgap + finalize)`,
    });
    await worker.stop();
    console.log(`worker SIGKILL: each stage was left this long after its kill: ${recoverySeconds.join(', ')}`);
  }, 300_000);
});


describe('given a migration on a dev server that is restarted', () => {
  it('when the server restarts during the wait for approval and during a canary bake, then the approval sent after the restart is honoured and the migration completes', async () => {
    const { worker, taskQueue } = newWorker('restart');
    const steps = [
      { percent: 50, bake: '6s' },
      { percent: 100, bake: '2s' },
    ];
    const spec = specFor(RESTARTED, { approvals: { cutover: true, finalize: false }, canary: { steps, analysisInterval: '6s' } });
    const workflowId = migrationWorkflowId(PROJECT, RESTARTED);
    await worker.start();
    await startMigration(spec, taskQueue);

    let restarts = 0;
    /** Stops the worker and the server, starts a server on the same port and SQLite file, then a new worker. */
    const restartSeconds: string[] = [];
    const restartTemporal = async () => {
      const began = Date.now();
      await worker.kill();
      const port = Number(server.address.split(':')[1]);
      await server.stop();
      server = await startDevServer({ headless: true, dbFile, port, logFile: join(dir, 'temporal.log') });
      await connectClient();
      await worker.start();
      restarts++;
      restartSeconds.push(((Date.now() - began) / 1000).toFixed(0));
    };

    const waiting = await pollUntil(() => status(workflowId), (s) => s.stage === 'approve-cutover' && s.waitingFor !== undefined, 'wait for the cutover approval');
    await restartTemporal();
    // The same execution, still waiting where it was, with nothing decided for it.
    const resumed = await status(workflowId);
    expect(resumed).toMatchObject({ stage: 'approve-cutover', waitingFor: waiting.waitingFor, vertexPercent: 0 });
    expect(resumed.decisions).toEqual([]);
    expect(resumed.mutations).toEqual(waiting.mutations);

    const receipt = await sendDecision(client, { pipeline: RESTARTED, project: PROJECT }, 'approve', { stage: 'cutover', by: 'alice@example.com' });
    expect(receipt).toMatchObject({ stage: 'cutover', decision: 'approved', by: 'alice@example.com' });

    const baking = await pollUntil(() => status(workflowId), (s) => s.stage === 'canary' && s.canary?.step === 1 && s.vertexPercent === 50 && s.next.includes('baking until'), 'bake of the first canary step');
    await restartTemporal();
    const afterBakeRestart = await status(workflowId);
    expect(afterBakeRestart.stage).toBe('canary');
    expect(afterBakeRestart.mutations.filter((m) => m.kind === 'route-published')).toEqual(baking.mutations.filter((m) => m.kind === 'route-published'));

    const bakeRestartedAt = Date.now();
    const result = (await client.workflow.getHandle(workflowId).result()) as MigrationResult;
    console.log(`server restart: each restart took ${restartSeconds.join(' s, ')} s; completion ${((Date.now() - bakeRestartedAt) / 1000).toFixed(0)} s after the second`);
    expect(result.outcome).toBe('completed');
    expect(result.decisions.filter((d) => d.action === 'approve')).toEqual([expect.objectContaining({ stage: 'cutover', by: 'alice@example.com' })]);
    const generations = routeGenerations(result);
    expect(generations).toHaveLength(steps.length);
    expect(new Set(generations).size).toBe(steps.length);
    // Both route changes after the approval carry the approver's name.
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.approvedBy)).toEqual(steps.map(() => 'alice@example.com'));
    expect(await routeFile(RESTARTED)).toMatchObject({ generation: generations.at(-1), vertexPercent: 100 });

    table.push({
      scenario: 'Temporal dev server restart (approval wait, canary bake)',
      runs: restarts,
      outcome: `${result.outcome}; approval sent after the restart honoured; ${generations.length} route generations for ${steps.length} steps`,
    });
  }, 180_000);
});
