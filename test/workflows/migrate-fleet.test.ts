// Fleet migrations on the time-skipping server: waves of child migrations against the emulator,
// a halt when a wave fails, and one approval per wave instead of per pipeline (typed, or proved by
// a Google ID token and checked against each pipeline's own approvers).

import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationWorkflowId } from '../../contracts/names';
import { MIGRATE_FLEET_WORKFLOW, approveWaveUpdate, fleetStatusQuery, fleetWorkflowId, type FleetSpecInput } from '../../contracts/fleet';
import type { MigrationResult } from '../../contracts/status';
import type { CliIo } from '../../client/command';
import { approve } from '../../client/commands/approve';
import { DEMO_OPERATOR } from '../../emulator';
import type { FleetResult } from '../../workflows/migrate-fleet';
import { maybeRecordHistory, startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['f-bad-1', 'f-bad-2', 'f-ok-1', 'f-ok-2', 'f-w1', 'f-w2', 'f-c1', 'f-c2', 'f-c3', 'f-c4', 'f-c5', 'f-v1', 'f-v2']);
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
      verify: 'none',
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

  it('given verified wave approvals, takes the approver from the token, refuses the wave for a pipeline whose own approvers lack them, and stamps the approver on the others\' mutations', async () => {
    // The demo operator: the one `keyless approve` acts as against the emulator.
    const lead = DEMO_OPERATOR;
    const quick = { canary: { steps: [{ percent: 100, bake: '1m' }] }, soak: { duration: '0s' } };
    const fleet: FleetSpecInput = {
      fleet: 'verified-fleet',
      waveSize: 2,
      approvalPerWave: true,
      approvers: [lead],
      pipelines: [bench.spec('f-v1', { ...quick, approvals: { approvers: [lead] } }), bench.spec('f-v2', { ...quick, approvals: { approvers: ['owner@example.com'], finalize: false } })],
    };
    const token = (email: string) => bench.cloud.emulator.mintGoogleIdToken({ email, audience: 'keyless-approvals' });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await startFleet(fleet, taskQueue);
      await waitFor(() => handle.query(fleetStatusQuery), (s) => s.wait?.wave === 1, 'wave 1 approval');
      const typed = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 1, by: lead }] }).catch((e: unknown) => e);
      expect((typed as WorkflowUpdateFailedError).cause?.message).toMatch(/idToken: the fleet's approvals are verified/);
      const stranger = await handle.executeUpdate(approveWaveUpdate, { args: [{ wave: 1, idToken: await token('mallory@example.com') }] }).catch((e: unknown) => e);
      expect((stranger as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ApproverNotAllowed' });
      // keyless approve --fleet verified-fleet --wave 1, with no credentials but the emulator's.
      const printed: string[] = [];
      const io: CliIo = {
        print: (line) => void printed.push(line),
        json: () => undefined,
        env: { KEYLESS_EMULATOR: bench.cloud.emulator.baseUrl },
        isTerminal: false,
        google: () => bench.cloud.clients,
        withTemporal: (fn) => fn({ client: bench.env.client, connection: undefined as never, config: undefined as never }),
      };
      expect(await approve.run({ values: { fleet: 'verified-fleet', wave: '1' }, positionals: [] }, io)).toBe(0);
      expect(printed[0]).toMatch(/^wave 1 of verified-fleet approved by operator@example.com \(verified by Google ID token\)/);
      expect(printed[1]).toBe('not for f-v2: their own approvers do not include operator@example.com, so they keep their own approvals');
      // f-v2 keeps its own gate: it waits for its own approver.
      const child = bench.env.client.workflow.getHandle(migrationWorkflowId('demo-project', 'f-v2'));
      await waitFor(() => child.query<{ wait?: { kind: string } }>('status'), (s) => s.wait?.kind === 'approval', 'f-v2 cutover approval');
      await child.executeUpdate('approve', { args: [{ stage: 'cutover', idToken: await token('owner@example.com') }] });
      return (await handle.result()) as FleetResult;
    });
    expect(result.members.map((m) => m.state)).toEqual(['completed', 'completed']);
    expect(result.refusals?.recent.map((r) => [r.pipeline, r.by])).toEqual([[undefined, 'mallory@example.com'], ['f-v2', lead]]);
    const v1 = (await bench.env.client.workflow.getHandle(migrationWorkflowId('demo-project', 'f-v1')).result()) as MigrationResult;
    expect(v1.decisions.filter((d) => d.action === 'approve').map((d) => [d.stage, d.by, d.verified])).toEqual([['cutover', lead, true], ['finalize', lead, true]]);
    expect(v1.mutations.filter((m) => m.kind === 'route-published' || m.kind === 'key-restricted').filter((m) => m.approvedBy).every((m) => m.approvedBy === lead)).toBe(true);
    expect(v1.mutations.some((m) => m.approvedBy === lead)).toBe(true);
    const v2 = (await bench.env.client.workflow.getHandle(migrationWorkflowId('demo-project', 'f-v2')).result()) as MigrationResult;
    expect(v2.decisions.filter((d) => d.action === 'approve').map((d) => [d.by, d.verified])).toEqual([['owner@example.com', true]]);
  });
});
