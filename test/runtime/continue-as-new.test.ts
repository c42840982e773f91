// Long bakes must not grow a history without bound: when the server suggests it, the migration
// continues as new carrying its state, and finishes as if nothing happened. The dev server is
// told to suggest it early (after 60 events) so a short canary crosses the threshold.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, promoteSignal, rollbackSignal, statusQuery } from '../../contracts/messages';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { recordScenario } from '../support/scenarios';
import { withKeylessWorker } from '../support/temporal';

/** A pipeline of the test's own for the evidence waits (the demo's three are migrated above). */
const EVIDENCE = 'can-evidence';
let server: DevServer;
let cloud: TestCloud;
let connection: Connection;
let routesDir: string;

beforeAll(async () => {
  server = await startDevServer({ headless: true, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } });
  cloud = await startTestCloud({ tweak: (fixture) => void fixture.keys!.push({ project: 'demo-project', keyId: EVIDENCE, displayName: `${EVIDENCE} (test)`, annotations: { [PIPELINE_ANNOTATION]: EVIDENCE } }) });
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
    const spec = demoSpec('nightly-summarizer', { canary: { steps: [{ percent: 50, bake: '4s' }, { percent: 100, bake: '4s' }], analysisInterval: '200ms' }, soak: { duration: '1s' } });
    const { result, lastRunId, firstRunId } = await runMigration(spec, async () => undefined);
    expect(lastRunId).not.toBe(firstRunId);
    expect(result.outcome).toBe('completed');
    // The record survived the hand-over: all routes published, analyses from both steps.
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.detail.split(': ')[1])).toEqual(['50% on Vertex', '100% on Vertex']);
    expect(new Set(result.canary.map((a) => a.step))).toEqual(new Set([1, 2]));
    expect(result.mutations.filter((m) => m.kind === 'account-created')).toHaveLength(1);
    expect(JSON.parse(await readFile(join(routesDir, 'demo-project', 'nightly-summarizer.json'), 'utf8')).vertexPercent).toBe(100);
  });

  it('when a rollback comes after the hand-over, then the undo log came along and every change is undone', async () => {
    const spec = demoSpec('ticket-triage', { canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 100, bake: '1h' }], analysisInterval: '200ms' } });
    const { result } = await runMigration(spec, async (handle, firstRunId) => {
      await pollUntil(async () => (await handle.describe()).runId !== firstRunId, 'continue-as-new');
      await handle.signal(rollbackSignal, { by: 'oncall@example.com', reason: 'after the hand-over' });
    });
    expect(result.outcome).toBe('rolled-back');
    const forward = result.mutations.filter((m) => m.approvedBy !== 'oncall@example.com');
    // The token-creator grant was taken back after the dual-run: that removal needs no undo.
    expect(forward.map((m) => m.kind)).toEqual(['account-created', 'role-granted', 'token-creator-granted', 'token-creator-removed', 'route-published']);
    expect(forward.filter((m) => m.kind !== 'token-creator-removed').every((m) => m.undoneAt)).toBe(true);
    expect(result.mutations.slice(forward.length).map((m) => m.kind)).toEqual(['route-published', 'role-removed', 'account-deleted']);
    expect(JSON.parse(await readFile(join(routesDir, 'demo-project', 'ticket-triage.json'), 'utf8')).vertexPercent).toBe(0);
  });

  it('when a key shared with a pipeline that never migrates keeps the migration waiting, then it continues as new without soaking again, and promote ends the wait', async () => {
    const spec = demoSpec('report-digest', { canary: { steps: [{ percent: 100, bake: '1s' }], analysisInterval: '200ms' }, soak: { duration: '1s' } });
    const { result, lastRunId } = await runMigration(spec, async (handle) => {
      const waiting = async () => {
        const s: MigrationStatus = await handle.query(statusQuery);
        return s.wait?.kind === 'sharing-pipelines' ? s : undefined;
      };
      await pollUntil(waiting, 'the shared-key wait');
      const waitingRun = (await handle.describe()).runId;
      await pollUntil(async () => (await handle.describe()).runId !== waitingRun, 'continue-as-new during the shared-key wait');
      const status = await pollUntil(waiting, 'the shared-key wait in the new run');
      expect(status.stage).toBe('held');
      expect(status.wait).toEqual({ kind: 'sharing-pipelines', pipelines: ['legacy-exporter'] });
      await handle.signal(promoteSignal, { by: 'frank@example.com', note: 'legacy-exporter is retired' });
    });
    expect(result.outcome).toBe('completed');
    expect(result.decisions).toContainEqual(expect.objectContaining({ action: 'promote', stage: 'held', by: 'frank@example.com' }));
    expect(result.mutations.at(-1)).toMatchObject({ kind: 'key-restricted' });
    // The run that held looked at the other pipeline's route and watched Vertex (reads with
    // latencies), but did not soak again: the soak's reads (counts only) had ended before the hand-over.
    const history = await new Client({ connection }).workflow.getHandle(migrationWorkflowId('demo-project', 'report-digest'), lastRunId).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes] : []));
    expect(scheduled.map((a) => a.activityType!.name)).toContain('readRoute');
    const trafficReads = scheduled.filter((a) => a.activityType!.name === 'readTraffic').map((a) => JSON.parse(Buffer.from(a.input!.payloads![0]!.data!).toString('utf8')) as { latency?: boolean });
    expect(trafficReads.filter((input) => !input.latency)).toEqual([]);
  });
});

describe('given waits that can last for days', () => {
  it('when a step waits for evidence, the soak for a run and approve-finalize for a person, then each continues as new and keeps its place', async () => {
    const spec = demoSpec(EVIDENCE, {
      approvals: { cutover: false, finalize: true, deadline: '1h' },
      canary: { steps: [{ percent: 100, bake: '1s', maxBake: '2s' }], minRequests: 5, analysisInterval: '200ms' },
      soak: { duration: '1s', minVertexRequests: 1 },
    });
    const seen: Record<string, string[]> = {};
    const { result } = await runMigration(spec, async (handle) => {
      const status = () => handle.query(statusQuery);
      /** Waits for `kind`, then for a new run, and returns the status before and after the hand-over. */
      const acrossHandOver = async (kind: string) => {
        const before = await pollUntil(async () => ((await status()).wait?.kind === kind ? status() : undefined), `the ${kind} wait`);
        const run = (await handle.describe()).runId;
        await pollUntil(async () => (await handle.describe()).runId !== run, `continue-as-new during the ${kind} wait`);
        const after = await pollUntil(async () => ((await status()).wait?.kind === kind ? status() : undefined), `the ${kind} wait in the new run`);
        (seen[kind] ??= []).push(run);
        return { before, after };
      };
      const evidence = await acrossHandOver('canary-evidence');
      expect(evidence.after.canarySteps?.[0]?.evidenceWaitSince).toBe(evidence.before.canarySteps?.[0]?.evidenceWaitSince);
      await handle.signal(promoteSignal, { by: 'frank@example.com', note: 'no runs this week' });
      const soak = await acrossHandOver('pipeline-run');
      expect(soak.after.wait).toEqual(soak.before.wait?.kind === 'pipeline-run' ? { ...soak.before.wait, vertexRequests: 0 } : undefined);
      // The job runs once on Vertex: the soak, still in the window it opened before the hand-over, passes.
      const vertex = cloud.clientsAs(`${EVIDENCE}@demo-project.iam.gserviceaccount.com`).genai({ kind: 'vertex', project: 'demo-project', location: 'global' });
      await vertex.models.generateContent({ model: 'gemini-2.5-flash', contents: 'the nightly run' });
      const gate = await acrossHandOver('approval');
      expect(gate.after.lastAnalysis?.phase).toBe('approve-finalize');
      await handle.executeUpdate(approveUpdate, { args: [{ stage: 'finalize', by: 'bob@example.com' }] });
    });
    expect(result.outcome).toBe('completed');
    expect(result.canarySteps).toEqual([expect.objectContaining({ advancedBy: 'promote', by: 'frank@example.com', vertexRequests: 0 })]);
    expect(result.soak).toMatchObject({ keyRequests: 0, vertexRequests: 1 });
    expect(result.mutations.at(-1)).toMatchObject({ kind: 'key-restricted', approvedBy: 'bob@example.com' });
    const perAnalysis = result.canary.flatMap((a, i) => {
      const b = result.canary[i + 1];
      return b && b.phase === a.phase && b.historyLength! > a.historyLength! ? [b.historyLength! - a.historyLength!] : [];
    });
    expect(Math.max(...perAnalysis)).toBeLessThanOrEqual(12);
    recordScenario({
      scenario: 'long waits continue as new (dev server, 60-event limit)',
      runs: 3,
      outcome: `the evidence wait, the soak's wait for a run and the watched approve-finalize each continued as new and kept their place; ${Math.min(...perAnalysis)}–${Math.max(...perAnalysis)} history events per analysis`,
    });
  });
});

function demoSpec(pipeline: string, overrides: Partial<PipelineSpecInput>): PipelineSpecInput {
  return {
    pipeline,
    project: 'demo-project',
    apiKey: `projects/demo-project/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: pipeline },
    vertex: { models: ['gemini-2.5-flash'] },
    approvals: { cutover: false, finalize: false },
    route: { store: `file://${routesDir}` },
    ...overrides,
    // No pipeline runs here: steps advance on their bake, the soak passes without a run.
    canary: { minRequests: 0, ...overrides.canary },
    soak: { minVertexRequests: 0, ...overrides.soak },
  };
}

type Handle = ReturnType<Client['workflow']['getHandle']>;

/** Runs one migration on a worker of its own, acting on it with `during` while it runs. */
async function runMigration(spec: PipelineSpecInput, during: (handle: Handle, firstRunId: string) => Promise<void>): Promise<{ result: MigrationResult; firstRunId: string; lastRunId: string }> {
  const client = new Client({ connection });
  return withKeylessWorker(server.address, { clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR }, 'can', async (taskQueue) => {
    const handle = await client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId: migrationWorkflowId(spec.project, spec.pipeline), args: [spec] });
    await during(client.workflow.getHandle(handle.workflowId), handle.firstExecutionRunId);
    const result = (await client.workflow.getHandle(handle.workflowId).result()) as MigrationResult;
    return { result, firstRunId: handle.firstExecutionRunId, lastRunId: (await client.workflow.getHandle(handle.workflowId).describe()).runId };
  });
}

/** Polls (real time, bounded) until `read` gives a truthy value. */
async function pollUntil<T>(read: () => Promise<T | undefined | false>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await read().catch(() => undefined);
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached`);
}
