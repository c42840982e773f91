// The canary decides on evidence, for the volumes headless jobs have. On the time-skipping server
// with the real activities, the emulator's Cloud Monitoring and a job that runs through the real
// route-aware client: an hourly job of a few calls a run, a job that never runs, a daily job with
// steps sized by evidence, and a promote on partial evidence.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsPerAnalysis } from '../../client/commands/report';
import { KeylessStage } from '../../contracts/names';
import { promoteSignal, statusQuery } from '../../contracts/messages';
import { validateSpec, type PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { planMigration } from '../../workflows/stages';
import { scheduledJob } from '../support/pipeline-job';
import { maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';

const HOURLY = 'ev-hourly';
const SILENT = 'ev-silent';
const DAILY = 'ev-daily';
const PARTIAL = 'ev-partial';
const DAY = 24 * 3_600_000;
let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([HOURLY, SILENT, DAILY, PARTIAL]);
});

afterAll(async () => {
  await bench?.stop();
});

type Handle = Awaited<ReturnType<MigrationBench['start']>>;

const running = async (handle: Handle) => (await handle.describe()).status.name === 'RUNNING';

/** The KeylessStage search attribute and the current details, where a fleet's operators look. */
async function published(handle: Handle): Promise<{ stage: string | undefined; details: string }> {
  const description = await handle.describe();
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return { stage: description.typedSearchAttributes.get(KeylessStage), details: metadata.currentDetails ?? '' };
}

function parsed(input: PipelineSpecInput) {
  const result = validateSpec(input);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.spec;
}

describe('given a pipeline that runs hourly with three calls a run', () => {
  it('when its canary steps ask for six Vertex requests each, then each step advances on its evidence and the soak sees the job run', async () => {
    const spec = bench.spec(HOURLY, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 50, bake: '2h', minRequests: 6 }, { percent: 100, bake: '2h', minRequests: 6 }], analysisInterval: '30m', maxBake: '12h' },
      soak: { duration: '3h', minVertexRequests: 1 },
    });
    const job = await scheduledJob(bench, HOURLY, { calls: 3 });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.stage === 'canary', 'the canary');
      // One run an hour of workflow time, until the migration ends (bounded: two virtual days).
      for (let hour = 0; hour < 48 && (await running(handle)); hour++) {
        await bench.env.sleep('1h');
        await job.run();
      }
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('canary-evidence-migration', await handle.fetchHistory());
      return done;
    });

    expect(result.outcome, result.rollback?.reason).toBe('completed');
    expect(result.canarySteps?.map((s) => [s.step, s.advancedBy])).toEqual([
      [1, 'evidence'],
      [2, 'evidence'],
    ]);
    for (const step of result.canarySteps!) {
      expect(step.vertexRequests).toBeGreaterThanOrEqual(6);
      expect(step.verdict).toBe('healthy');
      expect(step.bakedMs).toBeGreaterThanOrEqual(2 * 3_600_000);
    }
    // Every step's deciding analysis judged against the key, by class and latency, and recorded its baseline.
    const deciding = result.canary.filter((a) => a.verdict === 'healthy');
    expect(deciding.length).toBeGreaterThanOrEqual(2);
    for (const a of deciding) {
      expect(a).toMatchObject({ classes: { vertex: { identity: 0, server: 0, quota: 0 } }, minRequests: 6, latency: { maxRatio: 2 } });
      // Against what was there: the key's few requests at 50 % are below six, so no baseline is a fixed 0 %.
      expect(['key-this-step', 'key-whole-canary', 'none']).toContain(a.baseline?.source);
    }
    expect(result.soak).toMatchObject({ keyRequests: 0 });
    expect(result.soak?.vertexRequests).toBeGreaterThanOrEqual(1);
    const perAnalysis = eventsPerAnalysis(result.canary);
    expect(perAnalysis.length).toBeGreaterThan(0);
    expect(Math.max(...perAnalysis)).toBeLessThanOrEqual(12);

    const vertexRuns = job.runs.filter((r) => r.authMode === 'vertex').length;
    recordScenario({
      scenario: 'evidence: hourly job, 3 calls a run, steps of 6 requests',
      runs: job.runs.length,
      outcome:
        `completed; steps advanced on evidence (${result.canarySteps!.map((s) => `${s.percent} %: ${s.vertexRequests} requests after ${Math.round(s.bakedMs / 3_600_000)} h`).join(', ')}); ` +
        `${vertexRuns} of ${job.runs.length} runs on Vertex; soak saw ${result.soak!.vertexRequests} Vertex requests, none on the key; ${Math.max(...perAnalysis)} history events per analysis`,
    });
  });
});

describe('given a pipeline that never runs', () => {
  it('when the canary begins, then it waits at step 1 for evidence, visibly, for days, and goes on only on promote', async () => {
    const spec = bench.spec(SILENT, {
      approvals: { cutover: false, finalize: false },
      // A look every two hours keeps three days of waiting (and its recorded history) small.
      canary: { steps: [{ percent: 10, bake: '2h' }, { percent: 100, bake: '2h' }], minRequests: 20, analysisInterval: '2h' },
      soak: { duration: '2h', minVertexRequests: 1 },
    });
    const { result, waiting, attribute, soakWait } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const evidenceWait = (s: MigrationStatus) => s.wait?.kind === 'canary-evidence';
      const first = await bench.waitSkipping(() => handle.query(statusQuery), evidenceWait, 'the evidence wait', '1h');
      expect(first.wait).toMatchObject({ kind: 'canary-evidence', step: 1, percent: 10, vertexRequests: 0, minRequests: 20 });
      // Three days later it still waits there: no step passed on nothing.
      await bench.env.sleep('3d');
      const waiting = await handle.query(statusQuery);
      const attribute = await published(handle);
      expect(await running(handle)).toBe(true);
      await handle.signal(promoteSignal, { by: 'oncall@example.com', note: 'the job is paused this week; accept the canary on the probe and dual-run' });
      await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.wait?.kind === 'canary-evidence' && s.wait.step === 2, 'the evidence wait of step 2', '1h');
      await handle.signal(promoteSignal, { by: 'oncall@example.com' });
      const soaking = await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.wait?.kind === 'pipeline-run', 'the soak waiting for a run', '1h');
      const soakWait = { status: soaking, published: await published(handle) };
      await handle.signal(promoteSignal, { by: 'oncall@example.com', note: 'the job resumes next week' });
      const done = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('evidence-wait-promoted-migration', await handle.fetchHistory());
      return { result: done, waiting, attribute, soakWait };
    });

    expect(waiting.stage).toBe('canary');
    expect(waiting.vertexPercent).toBe(10);
    expect(waiting.wait).toMatchObject({ kind: 'canary-evidence', step: 1, vertexRequests: 0, minRequests: 20 });
    expect(waiting.waitingFor).toMatch(/^evidence at canary step 1\/2 \(10%\): 0 of 20 Vertex requests after 3d\d*h?.*; send promote to accept this evidence, or rollback$/);
    expect(waiting.next).toBe(`waiting for ${waiting.waitingFor}`);
    expect(attribute).toEqual({ stage: 'canary-awaiting-evidence', details: `${SILENT}: ${waiting.next}` });
    expect(soakWait.status.stage).toBe('soak');
    expect(soakWait.published.stage).toBe('soak-awaiting-run');
    expect(soakWait.status.next).toMatch(/^waiting for a run of the pipeline: none seen during the soak/);

    expect(result.outcome).toBe('completed');
    expect(result.canarySteps?.map((s) => s.advancedBy)).toEqual(['promote', 'promote']);
    const promotes = result.decisions.filter((d) => d.action === 'promote');
    expect(promotes).toHaveLength(3);
    expect(promotes[0]).toMatchObject({ by: 'oncall@example.com', accepted: { step: 1, percent: 10, vertexRequests: 0, minRequests: 20 } });
    expect(promotes[0]!.accepted!.bakedMs).toBeGreaterThan(3 * DAY);
    expect(promotes[1]).toMatchObject({ accepted: { step: 2, percent: 100, vertexRequests: 0 } });
    expect(promotes[2]!.accepted).toBeUndefined();
    expect(result.soak?.vertexRequests).toBe(0);

    recordScenario({
      scenario: 'evidence: a pipeline that never runs',
      runs: 1,
      outcome: `waited at step 1 (10 %) for evidence for ${Math.round(promotes[0]!.accepted!.bakedMs / DAY)} virtual days (KeylessStage canary-awaiting-evidence, "${waiting.waitingFor!.slice(0, 60)}…"); went on only on promote, each recorded with the evidence it accepted (0 of 20); the soak waited for a run (soak-awaiting-run) until promote`,
    });
  });
});

describe('given a daily job with steps sized by evidence', () => {
  it('when its one step is 100 % until four Vertex requests, within three days, then the plan expects two days and the migration completes on the second run', async () => {
    // The key's last week in Monitoring: one run a day of two calls.
    const now = Date.now();
    const history = Array.from({ length: 7 }, (_, d) => ({ time: new Date(now - (d + 1) * DAY).toISOString(), apiKey: DAILY, latencyMs: 800, count: 2 }));
    const recorded = await fetch(`${bench.cloud.emulator.baseUrl}/admin/v1/traffic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: history }) });
    expect(recorded.ok).toBe(true);
    const spec = bench.spec(DAILY, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 100, minRequests: 4, maxBake: '3d' }], analysisInterval: '1h' },
      soak: { duration: '36h', minVertexRequests: 1 },
    });

    // The plan's estimate at the observed volume: two days, inside the three; the default steps could not.
    const volume = { requests: 14, windowMs: 7 * DAY };
    const sized = planMigration(parsed(spec), { observedVolume: volume }).filter((s) => s.stage === 'canary');
    expect(sized.filter((s) => s.mutation === 'warning')).toEqual([]);
    expect(sized[0]!.when).toMatch(/expected ~2d at 0\.1 Vertex requests\/h/);
    const defaults = planMigration(parsed(bench.spec(DAILY, { canary: { minRequests: 20 } })), { observedVolume: volume }).filter((s) => s.mutation === 'warning');
    expect(defaults).toHaveLength(3);
    expect(defaults[0]!.detail).toMatch(/^step 1 \(10%\) needs 20 Vertex requests: .* past its maxBake 2h; it will wait for promote/);

    const job = await scheduledJob(bench, DAILY, { calls: 2 });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.stage === 'canary', 'the canary');
      for (let day = 0; day < 6 && (await running(handle)); day++) {
        await bench.env.sleep('1d');
        await job.run();
      }
      return (await handle.result()) as MigrationResult;
    });

    expect(result.outcome, result.rollback?.reason).toBe('completed');
    expect(result.canarySteps).toEqual([expect.objectContaining({ step: 1, percent: 100, advancedBy: 'evidence', vertexRequests: 4, minRequests: 4, verdict: 'healthy' })]);
    const deciding = result.canary.find((a) => a.verdict === 'healthy')!;
    // At 100 % the key sees nothing: Vertex was held against the key's week before the canary.
    expect(deciding.baseline).toMatchObject({ source: 'key-before-canary' });
    expect(deciding.baseline!.requests).toBeGreaterThanOrEqual(14);
    expect(result.soak?.vertexRequests).toBeGreaterThanOrEqual(1);
    expect(job.runs.every((r) => r.authMode === 'vertex' && r.statuses.every((s) => s === 200))).toBe(true);

    recordScenario({
      scenario: 'evidence: daily job, one 100 % step of 4 requests',
      runs: job.runs.length,
      outcome: `plan expected ~2 days (no warning; the default steps warned 3 times); completed after ${job.runs.length} daily runs: the step advanced on ${result.canarySteps![0]!.vertexRequests} requests against the key's week before the canary (${deciding.baseline!.requests} requests), the soak saw the job run`,
    });
  });
});

describe('given a step with part of its evidence', () => {
  it('when an operator promotes it, then it moves on and the promote is recorded with the evidence it accepted', async () => {
    const spec = bench.spec(PARTIAL, {
      approvals: { cutover: false, finalize: false },
      canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 100, bake: '1h', minRequests: 0 }], minRequests: 20, analysisInterval: '15m' },
    });
    const job = await scheduledJob(bench, PARTIAL, { calls: 3 });
    const { result, before } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => s.canary?.step === 1 && s.next.includes('baking until'), 'step 1 baking');
      // A few runs, until two of them went to Vertex: some evidence, far from 20 requests.
      for (let i = 0; i < 20 && job.runs.filter((r) => r.authMode === 'vertex').length < 2; i++) await job.run();
      const before = await bench.waitSkipping(() => handle.query(statusQuery), (s) => s.wait?.kind === 'canary-evidence' && s.wait.vertexRequests > 0, 'the evidence wait with some evidence', '30m');
      await handle.signal(promoteSignal, { by: 'lead@example.com', note: 'enough for a four-run job' });
      return { result: (await handle.result()) as MigrationResult, before };
    });

    const seen = before.wait?.kind === 'canary-evidence' ? before.wait.vertexRequests : -1;
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(20);
    expect(result.outcome).toBe('completed');
    expect(result.canarySteps?.map((s) => [s.advancedBy, s.by])).toEqual([
      ['promote', 'lead@example.com'],
      ['time', undefined],
    ]);
    expect(result.canarySteps![0]).toMatchObject({ vertexRequests: seen, minRequests: 20, verdict: 'too-few-requests' });
    expect(result.canarySteps![0]!.evidenceWaitSince).toBeTruthy();
    expect(result.decisions.find((d) => d.action === 'promote')).toMatchObject({
      by: 'lead@example.com',
      note: 'enough for a four-run job',
      accepted: { step: 1, percent: 50, vertexRequests: seen, minRequests: 20, verdict: 'too-few-requests' },
    });

    recordScenario({
      scenario: 'evidence: promote on partial evidence',
      runs: job.runs.length,
      outcome: `step 1 (50 %) waited with ${seen} of 20 Vertex requests; promote moved it on, recorded by lead@example.com with the evidence it accepted; step 2 advanced on its bake (minRequests 0)`,
    });
  });
});
