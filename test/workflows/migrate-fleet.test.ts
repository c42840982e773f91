// Fleet migrations on the time-skipping server: waves of child migrations against the emulator,
// a halt when a wave fails, and one approval per wave instead of per pipeline.

import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationWorkflowId } from '../../contracts/names';
import { MIGRATE_FLEET_WORKFLOW, approveWaveUpdate, fleetStatusQuery, fleetWorkflowId, type FleetSpecInput } from '../../contracts/fleet';
import type { FleetResult } from '../../workflows/migrate-fleet';
import { maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['f-bad-1', 'f-bad-2', 'f-ok-1', 'f-ok-2', 'f-w1', 'f-w2', 'f-c1', 'f-c2', 'f-c3', 'f-c4', 'f-c5']);
});

afterAll(async () => {
  await bench?.stop();
});

function startFleet(fleet: FleetSpecInput, taskQueue: string) {
  return bench.env.client.workflow.start(MIGRATE_FLEET_WORKFLOW, { taskQueue, workflowId: fleetWorkflowId(fleet.fleet), args: [fleet] });
}

describe('migrateFleet', () => {
  it('given a wave larger than its concurrency, never runs more children at once than the cap', async () => {
    const pipelines = ['f-c1', 'f-c2', 'f-c3', 'f-c4', 'f-c5'];
    // A bake keeps each child running a while, so children of one wave would overlap if allowed to.
    const spec = (p: string) => bench.spec(p, { approvals: { cutover: false, finalize: false }, canary: { steps: [{ percent: 100, bake: '1h' }] }, soak: { duration: '0s' } });
    const fleet: FleetSpecInput = { fleet: 'capped-fleet', waveSize: 5, concurrency: 2, pipelines: pipelines.map(spec) };
    const result = await bench.withWorker(async (taskQueue) => (await (await startFleet(fleet, taskQueue)).result()) as FleetResult);
    expect(result.members.map((m) => m.state)).toEqual(pipelines.map(() => 'completed'));
    // From the server's own record of each child: at no instant were more than 2 open.
    const spans = await Promise.all(
      pipelines.map(async (p) => {
        const d = await bench.env.client.workflow.getHandle(migrationWorkflowId('demo-project', p)).describe();
        return [d.startTime.getTime(), d.closeTime!.getTime()] as const;
      }),
    );
    const mostAtOnce = Math.max(...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
    expect(mostAtOnce).toBe(2);
    // A child with a 0 s soak: its history records the soak passing without an empty timer.
    await maybeRecordHistory('zero-soak-migration', await bench.env.client.workflow.getHandle(migrationWorkflowId('demo-project', 'f-c1')).fetchHistory());
  });


  it('given a first wave whose migrations roll back, halts: the second wave never starts', async () => {
    const notServed = { vertex: { location: 'europe-west4', models: ['gemini-2.5-flash-lite'] } };
    const quick = { approvals: { cutover: false, finalize: false } };
    const fleet: FleetSpecInput = {
      fleet: 'halting-fleet',
      waveSize: 2,
      concurrency: 2,
      haltAtFailureRatio: 0.4,
      pipelines: [bench.spec('f-bad-1', { ...notServed, ...quick }), bench.spec('f-bad-2', { ...notServed, ...quick }), bench.spec('f-ok-1', quick), bench.spec('f-ok-2', quick)],
    };
    const result = await bench.withWorker(async (taskQueue) => (await (await startFleet(fleet, taskQueue)).result()) as FleetResult);
    // The halt is recorded when the first rollback passes the ratio (1 of 2 > 0.4).
    expect(result.halted).toMatchObject({ wave: 1, size: 2 });
    expect(result.halted!.failures).toBeGreaterThanOrEqual(1);
    expect(result.members.map((m) => [m.pipeline, m.state])).toEqual([
      ['f-bad-1', 'rolled-back'],
      ['f-bad-2', 'rolled-back'],
      ['f-ok-1', 'not-started'],
      ['f-ok-2', 'not-started'],
    ]);
    expect(result.members[0]!.reason).toMatch(/probeVertex failed/);
    expect(result.counts).toMatchObject({ 'rolled-back': 2, 'not-started': 2, completed: 0 });
  });

  it('given approval per wave, runs each wave only after its approval, without per-pipeline approvals', async () => {
    const fleet: FleetSpecInput = {
      fleet: 'waved-fleet',
      waveSize: 1,
      approvalPerWave: true,
      approvers: ['lead@example.com'],
      pipelines: [bench.spec('f-w1'), bench.spec('f-w2')],
    };
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await startFleet(fleet, taskQueue);
      const first = await waitFor(() => handle.query(fleetStatusQuery), (s) => s.wait?.wave === 1, 'wave 1 approval');
      expect(first.counts).toMatchObject({ waiting: 2, running: 0 });
      const stranger = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 1, by: 'mallory@example.com' }] }).catch((e: unknown) => e);
      expect(stranger).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((stranger as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ApproverNotAllowed', message: expect.stringMatching(/^mallory@example.com is not in approvers/) });
      // Refused, but on record; the wave still waits.
      expect(await handle.query(fleetStatusQuery)).toMatchObject({ wait: { kind: 'wave-approval', wave: 1 }, refusals: { total: 1, recent: [{ wave: 1, by: 'mallory@example.com' }] } });
      const early = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 2, by: 'lead@example.com' }] }).catch((e: unknown) => e);
      expect((early as WorkflowUpdateFailedError).cause?.message).toMatch(/wave 2 is not waiting/);
      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 1, by: 'lead@example.com' }] });
      const second = await bench.waitSkipping(() => handle.query(fleetStatusQuery), (s) => s.wait?.wave === 2, 'wave 2 approval', '1h');
      expect(second.members.map((m) => m.state)).toEqual(['completed', 'waiting']);
      await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 2, by: 'lead@example.com' }] });
      return (await handle.result()) as FleetResult;
    });
    expect(result.halted).toBeUndefined();
    expect(result.members.map((m) => m.state)).toEqual(['completed', 'completed']);
    expect(result.waveApprovals.map((a) => [a.wave, a.by])).toEqual([[1, 'lead@example.com'], [2, 'lead@example.com']]);
    expect(result.refusals?.total).toBe(1);
  });
});
