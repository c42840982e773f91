// The canary judges more than an error rate, and keeps judging while gates wait. On the
// time-skipping server with the real activities, the emulator's Cloud Monitoring and a job that
// runs through the real route-aware client: a Vertex 403 mid-canary, a latency regression with
// equal error rates, a breach while approve-finalize waits, and a soak in which the job does not
// run, then runs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { statusQuery } from '../../contracts/messages';
import { KeylessStage } from '../../contracts/names';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { waitsForApproval } from '../../contracts/waits';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { clearFaults, setFaults } from '../support/failures';
import { scheduledJob } from '../support/pipeline-job';
import { maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';

const IDENTITY = 'jd-identity';
const SLOW = 'jd-slow';
const GATE = 'jd-gate';
const NO_RUN = 'jd-no-run';
const email = (pipeline: string) => `${pipeline}-sa@demo-project.iam.gserviceaccount.com`;
let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([IDENTITY, SLOW, GATE, NO_RUN]);
});

afterAll(async () => {
  await clearFaults(bench.cloud.emulator.baseUrl);
  await bench?.stop();
});

type Handle = Awaited<ReturnType<MigrationBench['start']>>;
const baking = (step: number) => (s: MigrationStatus) => s.canary?.step === step && s.next.includes('baking until');
const rolledBack = async (handle: Handle) => (await handle.describe()).status.name !== 'RUNNING';

describe('given a canary step in progress', () => {
  it('when Vertex refuses the pipeline\'s account (403), then the migration rolls back at the next analysis, without waiting for statistics', async () => {
    const spec = bench.spec(IDENTITY, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 100, bake: '6h' }], minRequests: 20, analysisInterval: '10m' },
    });
    const job = await scheduledJob(bench, IDENTITY, { calls: 1 });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), baking(1), 'step 1 baking');
      // Someone removes the account's Vertex role while the canary bakes.
      await createActivities({ clients: bench.cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR }).removeVertexRole({ project: 'demo-project', member: `serviceAccount:${email(IDENTITY)}` });
      const run = await job.run();
      expect(run).toEqual({ authMode: 'vertex', statuses: [403] });
      await bench.env.sleep('10m');
      return (await handle.result()) as MigrationResult;
    });

    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('CanaryBreach');
    expect(result.rollback?.reason).toMatch(/^canary step 1 \(100%\): Vertex refused the pipeline's account \(1 responses 401\/403\): a broken identity/);
    const breach = result.canary.at(-1)!;
    expect(breach).toMatchObject({ verdict: 'breach', breach: 'identity', classes: { vertex: { identity: 1 } }, vertex: { requests: 1 } });
    expect(breach.vertex.requests).toBeLessThan(20);
    // One analysis after the request: the step's bake had five hours and fifty minutes to go.
    expect(result.canary.filter((a) => a.step === 1)).toHaveLength(1);
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.detail.split(': ')[1])).toEqual(['100% on Vertex', '0% on Vertex']);

    recordScenario({
      scenario: 'judgement: Vertex 403 during the canary',
      runs: 1,
      outcome: `rolled back at the first analysis after one 403 (1 of 20 requests, no statistics): route back to 0 %, ${result.mutations.filter((m) => m.undoneAt).length} changes undone`,
    });
  });

  it('when Vertex answers as often as the key but much slower, then the latency rank test rolls it back', async () => {
    const spec = bench.spec(SLOW, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 100, bake: '1h' }], minRequests: 8, analysisInterval: '30m', maxLatencyRatio: 2 },
    });
    const job = await scheduledJob(bench, SLOW, { calls: 2 });
    const { result, runs } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), baking(1), 'step 1 baking');
      // Both paths answer every call; the key in about 80 ms, Vertex in about 320.
      await setFaults(bench.cloud.emulator.baseUrl, ['gemini'], { latencyMs: 80 });
      await setFaults(bench.cloud.emulator.baseUrl, ['vertex'], { latencyMs: 320 });
      try {
        for (let i = 0; i < 30 && job.runs.filter((r) => r.authMode === 'vertex').length < 5; i++) await job.run();
      } finally {
        await clearFaults(bench.cloud.emulator.baseUrl);
      }
      for (let i = 0; i < 4 && !(await rolledBack(handle)); i++) await bench.env.sleep('30m');
      return { result: (await handle.result()) as MigrationResult, runs: job.runs };
    });

    expect(runs.every((r) => r.statuses.every((s) => s === 200))).toBe(true);
    expect(result.outcome).toBe('rolled-back');
    const breach = result.canary.at(-1)!;
    expect(breach).toMatchObject({ step: 1, verdict: 'breach', breach: 'latency', latency: { verdict: 'breach', maxRatio: 2, baseline: { source: 'key-this-step' } } });
    // Equal error rates: nothing failed on either path.
    expect(breach.vertex.errors).toBe(0);
    expect(breach.key.errors).toBe(0);
    expect(breach.latency!.ratio!).toBeGreaterThan(2.5);
    expect(breach.latency!.ratio!).toBeLessThan(8);
    expect(breach.latency!.z!).toBeGreaterThan(3);
    expect(result.rollback?.reason).toMatch(/^canary step 1 \(50%\): Vertex latency [\d.]+× the key's \(p50 [\d.]+ ms against [\d.]+ ms over \d+ and \d+ requests\), past the tolerated 2× by z = [\d.]+$/);

    recordScenario({
      scenario: 'judgement: latency regression, equal error rates',
      runs: runs.length,
      outcome: `rolled back at step 1 (50 %): Vertex ${breach.latency!.ratio}× the key's latency (p50 ${breach.latency!.vertex.p50Ms} ms against ${breach.latency!.baseline.p50Ms} ms), z = ${breach.latency!.z} > 3, 0 errors on either path`,
    });
  });
});

describe('given a migration waiting for approve(stage: finalize)', () => {
  it('when Vertex starts failing, then the watch rolls it back before anyone approves', async () => {
    const spec = bench.spec(GATE, {
      approvals: { cutover: false, finalize: true, deadline: '30d' },
      canary: { steps: [{ percent: 100, bake: '30m', minRequests: 0 }], minRequests: 5, analysisInterval: '30m' },
      soak: { duration: '1h' },
    });
    const job = await scheduledJob(bench, GATE, { calls: 3 });
    const { result, waited } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const waiting = await bench.waitSkipping(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'finalize'), 'the finalize approval', '30m');
      // Four hours of healthy runs while nobody approves: judged, not a breach.
      for (let hour = 0; hour < 4; hour++) {
        await job.run();
        await bench.env.sleep('1h');
      }
      const healthy = await handle.query(statusQuery);
      expect(healthy.lastAnalysis?.phase).toBe('approve-finalize');
      expect(healthy.lastAnalysis?.verdict).not.toBe('breach');
      expect(waitsForApproval(healthy.wait, 'finalize')).toBe(true);
      await setFaults(bench.cloud.emulator.baseUrl, ['vertex'], { errorRates: { '503': 1 } });
      try {
        for (let hour = 0; hour < 6 && !(await rolledBack(handle)); hour++) {
          await job.run();
          await bench.env.sleep('1h');
        }
      } finally {
        await clearFaults(bench.cloud.emulator.baseUrl);
      }
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('gate-breach-migration', await handle.fetchHistory());
      return { result: done, waited: waiting };
    });

    expect(waited.stage).toBe('approve-finalize');
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('CanaryBreach');
    expect(result.rollback?.reason).toMatch(/^while waiting for approve\(stage: finalize\): Vertex error rate 100\.0% exceeds/);
    expect(result.decisions.filter((d) => d.action === 'approve')).toEqual([]);
    expect(result.mutations.some((m) => m.kind === 'key-restricted' && m.detail.startsWith('finalize'))).toBe(false);
    const watched = result.canary.filter((a) => a.phase === 'approve-finalize');
    expect(watched.some((a) => a.verdict === 'healthy')).toBe(true);
    expect(watched.at(-1)).toMatchObject({ verdict: 'breach', breach: 'error-rate', classes: { vertex: { server: expect.any(Number) } } });

    recordScenario({
      scenario: 'judgement: breach while approve-finalize waits',
      runs: job.runs.length,
      outcome: `${watched.length} analyses while the approval waited (healthy first); rolled back on ${watched.at(-1)!.vertex.errors} of ${watched.at(-1)!.vertex.requests} Vertex 503s before anyone approved; key never finalized`,
    });
  });
});

describe('given a soak in which the job does not run', () => {
  it('when the soak window passes with a quiet key and no run, then it waits; once the job runs on Vertex, it passes', async () => {
    const spec = bench.spec(NO_RUN, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 100, bake: '30m' }], analysisInterval: '30m' },
      soak: { duration: '2h', minVertexRequests: 1 },
    });
    const job = await scheduledJob(bench, NO_RUN, { calls: 2 });
    const { result, waiting, stage } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const waiting = await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.wait?.kind === 'pipeline-run', 'the soak waiting for a run', '30m');
      // A day later, still waiting: a quiet key alone passes nothing.
      await bench.env.sleep('1d');
      const still = await handle.query(statusQuery);
      expect(still.wait?.kind).toBe('pipeline-run');
      const stage = (await handle.describe()).typedSearchAttributes.get(KeylessStage);
      await job.run();
      await bench.env.sleep('30m');
      return { result: (await handle.result()) as MigrationResult, waiting, stage };
    });

    expect(waiting.stage).toBe('soak');
    expect(waiting.wait).toMatchObject({ kind: 'pipeline-run', vertexRequests: 0, minVertexRequests: 1 });
    expect(waiting.next).toMatch(/^waiting for a run of the pipeline: none seen during the soak since .*; it passes once the job runs on Vertex, or send promote to override, or rollback$/);
    expect(stage).toBe('soak-awaiting-run');
    expect(result.outcome).toBe('completed');
    expect(result.soak).toMatchObject({ keyRequests: 0, vertexRequests: 2 });
    expect(result.decisions).toEqual([]);

    recordScenario({
      scenario: 'judgement: soak without a run, then a run',
      runs: 1,
      outcome: 'waited (soak-awaiting-run) a day past the 2 h soak with a quiet key and no run; passed after one run of 2 Vertex requests; key then restricted',
    });
  });
});
