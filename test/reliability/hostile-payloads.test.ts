// Hostile and malformed messages to a running migration: updates the validator must refuse, signals
// (which cannot be refused) that must not break or steer it, and payloads past a size limit. After
// all of them the migration is healthy: it answers queries, no workflow task failed, nothing was
// decided, and a well-formed operator action still works.

import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, pauseSignal, promoteSignal, rejectUpdate, resumeSignal, rollbackSignal, statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { startMigrationBench, updateRefusal, waitFor, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';
import { waitsForApproval } from '../../contracts/waits';

const PIPELINE = 'rel-hostile';
let bench: MigrationBench;

beforeAll(async () => {
  // The dev server: the payload limit under test is the real server's, which time skipping lacks.
  bench = await startMigrationBench([PIPELINE], { server: 'dev' });
});

afterAll(async () => {
  await bench?.stop();
});

/** Updates that are not an approval at all, or one with a field out of bounds, and what the refusal must name. */
const MALFORMED_APPROVALS: Array<[label: string, payload: unknown, names: RegExp]> = [
  ['null', null, /payload/],
  ['an array', ['cutover', 'alice@example.com'], /payload/],
  ['a number', 42, /payload/],
  ['a string', 'approve everything', /payload/],
  ['no by', { stage: 'cutover' }, /by/],
  ['an empty by', { stage: 'cutover', by: '   ' }, /by must name who acts/],
  ['a by of 10,000 characters', { stage: 'cutover', by: 'a'.repeat(10_000) }, /by is limited to 200 characters/],
  ['a note of 100,000 characters', { stage: 'cutover', by: 'alice@example.com', note: 'n'.repeat(100_000) }, /note is limited to 2000 characters/],
  ['an unknown field', { stage: 'cutover', by: 'alice@example.com', force: true }, /force/],
  ['a prototype key', JSON.parse('{"stage":"cutover","by":"alice@example.com","__proto__":{"admin":true}}'), /__proto__/],
  ['an operator object as stage', { stage: { $ne: 'x' }, by: 'alice@example.com' }, /stage must be one of: cutover, finalize/],
  ['an upper-case stage', { stage: 'CUTOVER', by: 'alice@example.com' }, /stage must be one of: cutover, finalize/],
  ['a stage not waiting', { stage: 'finalize', by: 'alice@example.com' }, /stage finalize is not waiting/],
  ['a number as by', { stage: 'cutover', by: 7 }, /by/],
  ['an idToken of 10,000 characters', { stage: 'cutover', idToken: `${'a'.repeat(5_000)}.${'b'.repeat(5_000)}.c` }, /idToken is limited to 8192 characters/],
  ['an idToken that is no JWT', { stage: 'cutover', idToken: 'approve me' }, /idToken must be a Google ID token/],
  ['both by and idToken', { stage: 'cutover', by: 'alice@example.com', idToken: 'a.b.c' }, /by is taken from idToken: give one or the other/],
];

/** Signals cannot be refused; each of these must be ignored or act without recording a bad value. */
const HOSTILE_SIGNALS: Array<[label: string, send: (h: WorkflowHandle) => Promise<void>]> = [
  ['rollback with no payload', (h) => h.signal(rollbackSignal, undefined as never)],
  ['rollback with an empty reason', (h) => h.signal(rollbackSignal, { by: 'mallory@example.com', reason: '' })],
  ['rollback with a number as by', (h) => h.signal(rollbackSignal, { by: 5, reason: 'because' } as never)],
  ['rollback with a reason of 50,000 characters', (h) => h.signal(rollbackSignal, { by: 'mallory@example.com', reason: 'r'.repeat(50_000) })],
  ['rollback with an unknown field', (h) => h.signal(rollbackSignal, { by: 'mallory@example.com', reason: 'x', now: true } as never)],
  ['promote with a string payload', (h) => h.signal(promoteSignal, 'now' as never)],
  ['pause with an array payload', (h) => h.signal(pauseSignal, [1, 2, 3] as never)],
  ['resume with a by of 10,000 characters', (h) => h.signal(resumeSignal, { by: 'b'.repeat(10_000) })],
];

describe('given a migration waiting for its cutover approval', () => {
  it('when it receives malformed updates, hostile signals and oversized payloads, then it refuses or ignores each and stays healthy', async () => {
    const spec = bench.spec(PIPELINE, { approvals: { approvers: ['alice@example.com'], verify: 'none' } });
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const before = await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');

      for (const [label, payload, names] of MALFORMED_APPROVALS) {
        for (const update of [approveUpdate, rejectUpdate]) {
          const message = await updateRefusal(handle.executeUpdate(update, { args: [payload as never] }));
          expect(message, `${label}: ${message}`).toMatch(names);
          // The refusal quotes no hostile content back at length.
          expect(message.length, label).toBeLessThan(600);
        }
      }

      for (const [, send] of HOSTILE_SIGNALS) await send(handle);

      // Under Temporal's payload limit, ours applies: a 1 MiB note is refused naming the field.
      expect(await updateRefusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com', note: 'x'.repeat(1024 * 1024) }] }))).toMatch(/note is limited to 2000 characters/);

      const wftFailures = async () => ((await handle.fetchHistory()).events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length;
      // Nothing so far made a workflow task fail: every refusal above came from the validator.
      expect(await wftFailures()).toBe(0);

      // Past Temporal's payload limit (2 MB on a real server) a signal is refused by the server itself.
      const oversized = await handle.signal(rollbackSignal, { by: 'mallory@example.com', reason: 'x'.repeat(3 * 1024 * 1024) }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(oversized, 'a 3 MiB signal was accepted').toBeInstanceOf(Error);
      // An update that large reaches the worker, which cannot send back even its refusal (the
      // refusal carries the request): the caller gets an error and the workflow task fails until
      // the caller gives up. The migration must then carry on as if nothing had been sent.
      const oversizedUpdate = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com', note: 'x'.repeat(3 * 1024 * 1024) }] }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(oversizedUpdate, 'a 3 MiB update was accepted').toBeInstanceOf(Error);
      const recoveredIn = Date.now();
      const after = await waitFor(() => handle.query(statusQuery), () => true, 'the migration answering again after the oversized update');
      const recoveryMs = Date.now() - recoveredIn;
      const failedTasks = await wftFailures();

      expect(after.stage).toBe('approve-cutover');
      expect(after.wait).toEqual({ kind: 'approval', stage: 'cutover' });
      expect(after.decisions.filter((d) => d.action === 'approve' || d.action === 'reject')).toEqual([]);
      expect(after.mutations).toEqual(before.mutations);
      // A signal with a bad payload still acts (pause, resume, promote cannot be refused) but
      // records no name from it; none of them may have started a rollback.
      expect(after.decisions.every((d) => d.by === undefined || d.by.length <= 200)).toBe(true);
      expect(JSON.stringify(after)).not.toContain('b'.repeat(201));
      const signaledSizes = ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []).map((p) => p.data?.length ?? 0));
      expect(Math.max(...signaledSizes)).toBeLessThan(2 * 1024 * 1024);

      // A well-formed approval from the allow-list still moves it on.
      const receipt = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'alice@example.com' }] });
      expect(receipt).toMatchObject({ decision: 'approved', by: 'alice@example.com' });
      await handle.signal(rollbackSignal, { by: 'alice@example.com', reason: 'test over' });
      const result = (await handle.result()) as MigrationResult;
      expect(result.outcome).toBe('rolled-back');
      expect(result.rollback?.by).toBe('alice@example.com');

      recordScenario({
        scenario: 'malformed updates, hostile signals, oversized payloads',
        runs: MALFORMED_APPROVALS.length * 2 + HOSTILE_SIGNALS.length + 3,
        outcome: `${MALFORMED_APPROVALS.length * 2 + 1} updates refused naming the field (incl. a 1 MiB note); ${HOSTILE_SIGNALS.length} hostile signals ignored or acted without their values; 3 MiB signal refused by the server; 3 MiB update failed for its caller (${failedTasks} failed workflow tasks, answering again in ${recoveryMs} ms); a valid approval then worked`,
      });
    });
  }, 120_000);
});
