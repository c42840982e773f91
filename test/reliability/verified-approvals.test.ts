// Approvals that prove who approved: with approvals.verify google-id-token the approver is whoever
// a Google ID token proves, checked in the verifyIdToken activity against the emulator's
// certificates (Google's paths). A typed name, a valid token for someone outside approvers, a
// token for another audience, an expired one, one signed by another key and a replayed one are
// each refused and recorded; promote is an update with the same check and its signal is recorded
// and ignored; rollback stays open and records the verified caller. With verify none an approval as
// the Temporal UI sends it is labelled unverified everywhere. Time-skipping server, real activities.

import { type ApplicationFailure, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMigrationStatus } from '../../client/commands/status';
import { approveUpdate, promoteSignal, promoteUpdate, rollbackSignal, statusQuery } from '../../contracts/messages';
import { KEYLESS_APPROVAL_AUDIENCE } from '../../contracts/identity';
import type { MigrationResult } from '../../contracts/status';
import { waitsForApproval } from '../../contracts/waits';
import { signJwt } from '../../emulator/core/identity';
import { newGoogleSigningKey } from '../../emulator/core/google-id-tokens';
import { maybeRecordHistory, startMigrationBench, updateRefusal, waitFor, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';

const VERIFIED = 'verified-approve';
const UNVERIFIED = 'unverified-approve';
const ALICE = 'alice@example.com';
let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([VERIFIED, UNVERIFIED]);
});

afterAll(async () => {
  await bench?.stop();
});

const token = (email: string, extra: { audience?: string; issuedSecondsAgo?: number } = {}) =>
  bench.cloud.emulator.mintGoogleIdToken({ email, audience: extra.audience ?? KEYLESS_APPROVAL_AUDIENCE, ...(extra.issuedSecondsAgo ? { issuedSecondsAgo: extra.issuedSecondsAgo } : {}) });

async function foreignKeyToken(email: string): Promise<string> {
  const { keys } = (await (await fetch(`${bench.cloud.emulator.baseUrl}/oauth2/v3/certs`)).json()) as { keys: { kid: string }[] };
  const other = await newGoogleSigningKey(new Date());
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ typ: 'JWT', kid: keys[0]!.kid }, { iss: 'https://accounts.google.com', aud: KEYLESS_APPROVAL_AUDIENCE, sub: '1', email, email_verified: true, iat: now, exp: now + 3600 }, other.privateKeyPem);
}

async function failure(update: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await update.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
}

describe('given approvals.verify google-id-token (the default with approvers)', () => {
  it('when strangers, foreign audiences, expired, foreign-key and replayed tokens try, then each is refused and recorded, and only the approver\'s own token approves', async () => {
    const spec = bench.spec(VERIFIED, {
      approvals: { approvers: [ALICE] },
      canary: { steps: [{ percent: 50, bake: '7d' }, { percent: 100, bake: '1m' }], analysisInterval: '1h' },
    });
    await bench.withWorker(async (taskQueue) => {
      const handle: WorkflowHandle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');

      // A typed name is not a proof: refused by the validator, naming the field and the fix.
      expect(await updateRefusal(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: ALICE }] }))).toMatch(/idToken: approvals.verify is google-id-token .*`keyless approve verified-approve --stage cutover`/);

      const attempts: Array<[string, string, string, RegExp]> = [
        ['forged approver (a valid token for someone else)', await token('mallory@example.com'), 'ApproverNotAllowed', /mallory@example.com is not in approvals.approvers/],
        ['a token for another audience', await token(ALICE, { audience: 'https://billing.example.com' }), 'UnverifiedIdentity', /audience https:\/\/billing.example.com is not one this worker accepts/],
        ['an expired token', await token(ALICE, { issuedSecondsAgo: 7200 }), 'UnverifiedIdentity', /the token expired at/],
        ['a token signed by another key', await foreignKeyToken(ALICE), 'UnverifiedIdentity', /signature does not match Google's key/],
      ];
      for (const [label, idToken, type, reason] of attempts) {
        const refused = await failure(handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', idToken }] }));
        expect(refused.type, label).toBe(type);
        expect(refused.message, label).toMatch(reason);
        expect(refused.message, label).not.toContain(idToken.split('.')[1]!);
      }
      const refusedStatus = await handle.query(statusQuery);
      expect(refusedStatus.refusals?.total).toBe(attempts.length);
      expect(refusedStatus.refusals?.recent.map((r) => r.by)).toEqual(['mallory@example.com', ALICE, ALICE, ALICE]);
      expect(refusedStatus.decisions).toEqual([]);
      expect(refusedStatus.approvals).toEqual({ verify: 'google-id-token', approvers: [ALICE] });

      const alice = await token(ALICE);
      const receipt = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', idToken: alice, note: 'dual-run looked fine' }] });
      expect(receipt).toMatchObject({ stage: 'cutover', decision: 'approved', by: ALICE, verified: true });
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 50, 'first canary step');

      // The same token again, read from the history by anyone: refused.
      const replayed = await failure(handle.executeUpdate(promoteUpdate, { args: [{ idToken: alice }] }));
      expect(replayed.type).toBe('UnverifiedIdentity');
      expect(replayed.message).toMatch(/already used on this migration/);

      // A promote signal acts on nothing here; the promote update with a fresh token does.
      await handle.signal(promoteSignal, { by: ALICE });
      await waitFor(() => handle.query(statusQuery), (s) => s.decisions.some((d) => d.ignored), 'the ignored promote signal');
      expect((await handle.query(statusQuery)).canary?.step).toBe(1);
      expect(await failure(handle.executeUpdate(promoteUpdate, { args: [{ idToken: await token('trent@example.com') }] }))).toMatchObject({ type: 'ApproverNotAllowed' });
      // Issued earlier than the cutover's token, so it is another token (the emulator's clock has whole seconds, as Google's).
      const promoted = await handle.executeUpdate(promoteUpdate, { args: [{ idToken: await token(ALICE, { issuedSecondsAgo: 30 }) }] });
      expect(promoted).toMatchObject({ action: 'promote', by: ALICE, verified: true });
      await waitFor(() => handle.query(statusQuery), (s) => s.vertexPercent === 100, 'the 100 % step after promote');

      // Rollback is open to anyone; a token makes the record say who it was.
      await handle.signal(rollbackSignal, { by: 'pager', reason: 'test over', idToken: await token('oncall@example.com') });
      const result = (await handle.result()) as MigrationResult;
      await maybeRecordHistory('verified-approvals-migration', await handle.fetchHistory());

      expect(result.outcome).toBe('rolled-back');
      expect(result.decisions.map((d) => [d.action, d.by, d.verified ?? false, Boolean(d.ignored)])).toEqual([
        ['approve', ALICE, true, false],
        ['promote', ALICE, false, true],
        ['promote', ALICE, true, false],
        ['rollback', 'oncall@example.com', true, false],
      ]);
      expect(result.rollback?.by).toBe('oncall@example.com');
      // The routes published under the cutover carry the verified approver.
      expect(result.mutations.filter((m) => m.kind === 'route-published' && !m.detail.includes('0% on Vertex')).every((m) => m.approvedBy === ALICE)).toBe(true);
      expect(result.refusals?.total).toBe(attempts.length + 2);
    });

    recordScenario({ scenario: 'forged approver: valid token for an email outside approvers', runs: 2, outcome: 'approve and promote refused as ApproverNotAllowed, recorded with the email the token proved' });
    recordScenario({ scenario: 'approval token for another audience / expired / another key', runs: 3, outcome: 'each refused as UnverifiedIdentity naming why (never echoing the token), recorded; the cutover still waited' });
    recordScenario({ scenario: 'replayed approval token', runs: 1, outcome: 'refused as UnverifiedIdentity (already used on this migration), recorded' });
    recordScenario({ scenario: 'promote signal where approvals are verified', runs: 1, outcome: 'recorded as ignored, the bake went on; the promote update with the approver\'s token moved it' });
  });
});

describe('given approvals.verify none', () => {
  it('when the cutover is approved as the Temporal UI sends it ({stage, by}), then status, result and report say unverified', async () => {
    const spec = bench.spec(UNVERIFIED, { approvals: { finalize: false }, canary: { steps: [{ percent: 100, bake: '1m' }], analysisInterval: '1h' } });
    await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      const receipt = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'ui@example.com' }] });
      expect(receipt).toMatchObject({ by: 'ui@example.com', verified: false });
      const status = await handle.query(statusQuery);
      expect(status.approvals).toEqual({ verify: 'none' });
      const text = renderMigrationStatus(status);
      expect(text).toMatch(/approvals: unverified \(approvals.verify none: anyone who may write to the Temporal namespace may approve, under any name/);
      expect(text).toMatch(/approve cutover by ui@example.com \(unverified\)/);
      await handle.signal(rollbackSignal, { by: 'alice@example.com', reason: 'test over' });
      const result = (await handle.result()) as MigrationResult;
      expect(result.approvals?.verify).toBe('none');
      expect(result.decisions[0]).toMatchObject({ action: 'approve', by: 'ui@example.com', verified: false });
    });
    recordScenario({ scenario: 'unverified UI approval (verify none)', runs: 1, outcome: 'accepted and labelled unverified in status, result and the status text' });
  });
});
