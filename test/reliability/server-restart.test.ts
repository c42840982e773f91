// Restarts: the Temporal dev server stopped and started again on its SQLite file, once while a
// migration waits for its cutover approval and once in a canary bake. The migration must resume
// where it was and honour an approval sent after the restart.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendDecision } from '../../client/migrations';
import { migrationWorkflowId } from '../../contracts/names';
import type { MigrationResult } from '../../contracts/status';
import { PROJECT, routeFile, routeGenerations, startReliabilityBench, type ReliabilityBench } from '../support/reliability-bench';
import { pollUntil } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const RESTARTED = 'rel-server-restart';

let bench: ReliabilityBench;

beforeAll(async () => {
  bench = await startReliabilityBench([RESTARTED]);
});

afterAll(async () => {
  await bench?.stop();
});

describe('given a migration on a dev server that is restarted', () => {
  it('when the server restarts during the wait for approval and during a canary bake, then the approval sent after the restart is honoured and the migration completes', async () => {
    const { worker, taskQueue } = bench.newWorker('restart');
    const steps = [
      { percent: 50, bake: '6s' },
      { percent: 100, bake: '2s' },
    ];
    const spec = bench.spec(RESTARTED, { approvals: { cutover: true, finalize: false }, canary: { steps, analysisInterval: '6s' } });
    await worker.start();
    await bench.start(spec, taskQueue);
    const status = () => bench.status(RESTARTED);

    let restarts = 0;
    const restartSeconds: string[] = [];
    /** Kills the worker, restarts the server on its port and SQLite file, then starts a new worker. */
    const restartTemporal = async () => {
      const began = Date.now();
      await worker.kill();
      await bench.restartServer();
      await worker.start();
      restarts++;
      restartSeconds.push(((Date.now() - began) / 1000).toFixed(0));
    };

    const waiting = await pollUntil(status, (s) => s.stage === 'approve-cutover' && s.wait !== undefined, 'wait for the cutover approval');
    await restartTemporal();
    // The same execution, still waiting where it was, with nothing decided for it.
    const resumed = await status();
    expect(resumed).toMatchObject({ stage: 'approve-cutover', wait: waiting.wait, vertexPercent: 0 });
    expect(resumed.decisions).toEqual([]);
    expect(resumed.mutations).toEqual(waiting.mutations);

    const receipt = await sendDecision(bench.client, { pipeline: RESTARTED, project: PROJECT }, 'approve', { stage: 'cutover', by: 'alice@example.com' });
    expect(receipt).toMatchObject({ stage: 'cutover', decision: 'approved', by: 'alice@example.com' });

    // A 6 s bake with one analysis: the poll has seconds to see it.
    const baking = await pollUntil(status, (s) => (s.stage === 'canary' && s.canary?.step === 1 && s.vertexPercent === 50 && s.next.includes('baking until')) || s.stage !== 'canary' && s.vertexPercent > 0, 'bake of the first canary step', 120_000, 50);
    expect(baking.stage).toBe('canary');
    await restartTemporal();
    const afterBakeRestart = await status();
    expect(afterBakeRestart.stage).toBe('canary');
    expect(afterBakeRestart.mutations.filter((m) => m.kind === 'route-published')).toEqual(baking.mutations.filter((m) => m.kind === 'route-published'));

    const bakeRestartedAt = Date.now();
    const result = (await bench.client.workflow.getHandle(migrationWorkflowId(PROJECT, RESTARTED)).result()) as MigrationResult;
    await worker.stop();
    console.log(`server restart: each restart took ${restartSeconds.join(' s, ')} s; completion ${((Date.now() - bakeRestartedAt) / 1000).toFixed(0)} s after the second`);
    expect(result.outcome).toBe('completed');
    expect(result.decisions.filter((d) => d.action === 'approve')).toEqual([expect.objectContaining({ stage: 'cutover', by: 'alice@example.com' })]);
    const generations = routeGenerations(result);
    expect(generations).toHaveLength(steps.length);
    expect(new Set(generations).size).toBe(steps.length);
    // Both route changes after the approval carry the approver's name.
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.approvedBy)).toEqual(steps.map(() => 'alice@example.com'));
    expect(await routeFile(bench.dir, RESTARTED)).toMatchObject({ generation: generations.at(-1), vertexPercent: 100 });

    recordScenario({
      scenario: 'Temporal dev server restart (approval wait, canary bake)',
      runs: restarts,
      outcome: `${result.outcome}; approval sent after the restart honoured; ${generations.length} route generations for ${steps.length} steps`,
    });
  }, 180_000);
});
