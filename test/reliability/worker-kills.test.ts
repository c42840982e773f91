// Crashes: a keyless worker SIGKILLed at every stage boundary of one migration, and in the middle
// of the sharpest moments of another (a binding written but not yet acknowledged, the dual-run, a
// canary bake). Every migration must complete and the emulator's audit log must show each mutation
// once. Then the suite's secret sweep: no key string the emulator issued in any history or worker log.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeylessStage } from '../../contracts/names';
import { STAGES } from '../../contracts/stages';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { auditLog, mutationsOf, routeFile, routeGenerations, startReliabilityBench, type ReliabilityBench } from '../support/reliability-bench';
import { pollUntil } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const AT_BOUNDARIES = 'rel-kill-boundaries';
const MID_STAGE = 'rel-kill-mid-stage';
/** The stages that do something in the cloud; a worker dies as each one schedules its first activity. */
const BOUNDARIES = ['inventory', 'stopgap', 'provision', 'probe', 'dual-run', 'canary', 'soak', 'finalize'] as const;

/** The stage the server recorded last when a worker dies entering `stage` (its decision to enter is lost). */
function previousStage(stage: (typeof BOUNDARIES)[number]): string | undefined {
  // The first workflow task, which enters inventory, never reached the server.
  if (stage === 'inventory') return undefined;
  // Without approvals, approve-cutover and approve-finalize pass in the same workflow task as the
  // stage before; so does identity for an external runtime.
  if (stage === 'probe') return 'provision';
  if (stage === 'canary') return 'dual-run';
  if (stage === 'finalize') return 'soak';
  return STAGES[STAGES.indexOf(stage) - 1];
}

let bench: ReliabilityBench;
const finished: MigrationResult[] = [];

beforeAll(async () => {
  bench = await startReliabilityBench([AT_BOUNDARIES, MID_STAGE]);
});

afterAll(async () => {
  await bench?.stop();
});

/** Two migrations with their own workers run side by side; the audit is read once both are done. */
describe.concurrent('given a worker SIGKILLed during a migration', () => {
  it('when it dies at every stage boundary, then each new worker takes the migration on from history and it completes', async () => {
    const { worker, taskQueue } = bench.newWorker('boundaries');
    const steps = [
      { percent: 50, bake: '1s' },
      { percent: 100, bake: '1s' },
    ];
    const spec = bench.spec(AT_BOUNDARIES, { approvals: { cutover: false, finalize: false }, canary: { steps, analysisInterval: '1s' } });
    expect(BOUNDARIES.every((s) => (STAGES as readonly string[]).includes(s))).toBe(true);

    // A killed workflow task is handed to the next worker once it times out: 4 s instead of 10.
    const handle = await bench.start(spec, taskQueue, { workflowTaskTimeout: '4s' });
    const kills: string[] = [];
    for (const stage of BOUNDARIES) {
      await worker.start({ killAtStage: stage });
      await worker.exited(120_000);
      kills.push(stage);
      // Each kill happened at its own boundary: the server last heard of the stage before it (no
      // worker is up to answer a query; the stage search attribute is the server's own record).
      const recorded = (await handle.describe()).typedSearchAttributes.get(KeylessStage);
      expect(recorded).toBe(previousStage(stage));
    }
    await worker.start();
    const result = (await handle.result()) as MigrationResult;
    await worker.stop();
    expect(result.outcome).toBe('completed');
    expect(worker.starts).toBe(BOUNDARIES.length + 1);
    expect(result.mutations.filter((m) => m.kind === 'key-restricted').map((m) => m.detail.split(':')[0])).toEqual(['stopgap', 'finalize']);
    expect(result.mutations.filter((m) => m.kind === 'account-created')).toHaveLength(1);
    expect(result.mutations.filter((m) => m.kind === 'role-granted')).toHaveLength(1);
    expect(routeGenerations(result)).toHaveLength(steps.length);
    finished.push(result);
    recordScenario({
      scenario: 'worker SIGKILL at every stage boundary',
      runs: kills.length,
      outcome: `${result.outcome} after kills at ${kills.join(', ')}; ${routeGenerations(result).length} route generations for ${steps.length} steps`,
    });
  }, 240_000);

  it('when it dies with a binding written but unacknowledged, in the dual-run and in a canary bake, then the migration completes without repeating a change', async () => {
    const { worker, taskQueue } = bench.newWorker('mid-stage');
    const steps = [
      { percent: 25, bake: '4s' },
      { percent: 100, bake: '3s' },
    ];
    const spec = bench.spec(MID_STAGE, {
      approvals: { cutover: false, finalize: false },
      // One analysis per bake, so the kill mid-bake lands on the bake's timer rather than on a read.
      canary: { steps, analysisInterval: '4s' },
      dualRun: { prompts: [{ text: 'Reply with the single word: ready' }, { text: 'Name one primary colour.' }, { text: 'Say hello.' }], samples: 2 },
    });
    // The project binding is made and audited, then its answer is held for 10 s: the worker dies
    // in that gap, so the retry on the next worker must find the binding rather than add it again.
    await bench.setFault('resourcemanager', { mutationResponseDelayMs: 10_000 });
    // Slow model calls stretch the dual-run to several seconds, so a kill lands inside it.
    await Promise.all([bench.setFault('gemini', { latencyMs: 500 }), bench.setFault('vertex', { latencyMs: 500 })]);
    const auditBefore = (await auditLog(bench.cloud.emulator.baseUrl)).length;
    await worker.start();
    const handle = await bench.start(spec, taskQueue);

    const kills: string[] = [];
    const recovery: string[] = [];
    const status = () => bench.status(MID_STAGE);
    /** Fails at once, naming where the migration was, if it went past the point it should be killed at. */
    const passed = (s: MigrationStatus, stage: string) => STAGES.indexOf(s.stage as (typeof STAGES)[number]) > STAGES.indexOf(stage as (typeof STAGES)[number]) || s.stage === 'rolling-back' || s.stage === 'rolled-back';
    const killThenRestart = async (what: string, left: (s: MigrationStatus) => boolean) => {
      await worker.kill();
      const killedAt = Date.now();
      kills.push(what);
      await worker.start();
      await pollUntil(status, left, `${what} left after the kill`, 180_000, 200);
      recovery.push(`${what} ${((Date.now() - killedAt) / 1000).toFixed(0)} s`);
    };

    // Any successful project setIamPolicy after the start is this migration's binding (the other
    // migration of the file may bind too, so the count is checked once both are done).
    const bindingsNow = async () => mutationsOf((await auditLog(bench.cloud.emulator.baseUrl)).slice(auditBefore), MID_STAGE, '').projectPolicySets.length;
    await pollUntil(async () => ({ bindings: await bindingsNow(), status: await status() }), (x) => x.bindings > 0 || passed(x.status, 'provision'), 'project binding written', 120_000, 50);
    expect((await status()).stage).toBe('provision');
    await bench.setFault('resourcemanager', {});
    await killThenRestart('provision (binding written, answer held)', (s) => s.stage !== 'provision');

    await pollUntil(status, (s) => s.stage === 'dual-run' || passed(s, 'dual-run'), 'dual-run', 120_000, 50);
    expect((await status()).stage).toBe('dual-run');
    // Let a few samples finish and be heartbeated, so the next worker resumes rather than restarts.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await status()).stage).toBe('dual-run');
    await killThenRestart('dual-run', (s) => s.stage !== 'dual-run');
    await Promise.all([bench.setFault('gemini', {}), bench.setFault('vertex', {})]);

    const bakingFirstStep = (s: MigrationStatus) => s.stage === 'canary' && s.canary?.step === 1 && s.vertexPercent === 25 && s.next.includes('baking until');
    await pollUntil(status, (s) => bakingFirstStep(s) || passed(s, 'canary') || (s.canary?.step ?? 0) > 1, 'bake of the first canary step', 120_000, 50);
    expect(bakingFirstStep(await status())).toBe(true);
    await killThenRestart('canary bake', (s) => s.stage !== 'canary' || (s.canary?.step ?? 0) > 1);

    const result = (await handle.result()) as MigrationResult;
    await worker.stop();
    expect(result.outcome).toBe('completed');
    expect(kills).toHaveLength(3);
    // One restriction by the stopgap, one by finalize; a retried activity must not write again.
    expect(result.mutations.filter((m) => m.kind === 'key-restricted').map((m) => m.detail.split(':')[0])).toEqual(['stopgap', 'finalize']);
    expect(result.mutations.filter((m) => m.kind === 'role-granted')).toHaveLength(1);
    // The dual-run resumed from its heartbeat: one sample per prompt and repeat, none doubled or lost.
    const dualRun = result.dualRun as { passed: boolean; samples: unknown[] };
    expect(dualRun.passed).toBe(true);
    expect(dualRun.samples).toHaveLength(3 * 2);
    const generations = routeGenerations(result);
    expect(generations).toHaveLength(steps.length);
    expect(new Set(generations).size).toBe(steps.length);
    expect([...generations].sort((a, b) => a - b)).toEqual(generations);
    expect(await routeFile(bench.dir, MID_STAGE)).toMatchObject({ generation: generations.at(-1), vertexPercent: 100 });
    finished.push(result);
    console.log(`worker SIGKILL mid-stage: each stage was left this long after its kill: ${recovery.join(', ')}`);
    recordScenario({
      scenario: 'worker SIGKILL mid-stage (binding unacknowledged, dual-run, canary bake)',
      runs: kills.length,
      outcome: `${result.outcome}; dual-run resumed with ${dualRun.samples.length}/6 samples, none doubled; ${generations.length} route generations for ${steps.length} steps`,
    });
  }, 240_000);
});

describe('given both killed migrations finished', () => {
  it('then the audit log shows each of their changes exactly once', async () => {
    expect(finished).toHaveLength(2);
    const audit = await auditLog(bench.cloud.emulator.baseUrl);
    const perPipeline = [AT_BOUNDARIES, MID_STAGE].map((pipeline) => {
      const result = finished.find((r) => r.pipeline === pipeline)!;
      const account = result.mutations.find((m) => m.kind === 'account-created')!;
      return { pipeline, account: account.target, audit: mutationsOf(audit, pipeline, account.target) };
    });
    // The create request names the project only, so creates and bindings are counted for both together.
    expect(perPipeline[0]!.audit.accountCreates).toHaveLength(2);
    expect(perPipeline[0]!.audit.projectPolicySets).toHaveLength(2);
    for (const { audit: changes } of perPipeline) {
      // Stopgap and finalize, once each.
      expect(changes.keyPatches).toHaveLength(2);
      // The orchestrator's token-creator grant on the account, and its removal after the dual-run: once each.
      expect(changes.accountPolicySets).toHaveLength(2);
    }
    recordScenario({
      scenario: 'audit after 11 worker kills in 2 migrations',
      runs: 2,
      outcome: 'each migration: 1 account created, 1 project binding, 1 token-creator grant and 1 removal of it, 2 key PATCHes (stopgap + finalize)',
    });
  });

  it('then no key string the emulator ever issued is in any workflow history or worker log', async () => {
    const keyStrings = Object.values(bench.cloud.emulator.core.state.keys).map((k) => k.keyString);
    expect(keyStrings.length).toBeGreaterThanOrEqual(2);
    const text = await bench.logsAndHistories();
    // The sweep must look at real content: the kill switch's log lines and the decoded payloads.
    expect(text).toContain(`killed: keyless/demo-project/${AT_BOUNDARIES} at stage finalize`);
    expect(text).toContain(`projects/demo-project/locations/global/keys/${MID_STAGE}`);
    const leaked = keyStrings.filter((keyString) => text.includes(keyString));
    expect(leaked).toEqual([]);
    recordScenario({
      scenario: 'secret sweep: histories and worker logs of the killed migrations',
      runs: keyStrings.length,
      outcome: `0 of ${keyStrings.length} issued key strings found in ${(text.length / 1024).toFixed(0)} KiB of histories and logs`,
    });
  });
});
