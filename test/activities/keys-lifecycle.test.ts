// The API-key activities that change a key for good or undo it: finalize (restrict, restrict-ip,
// delete), restoreKeySnapshot and undeleteKey, against the demo emulator with Google's clients.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../contracts/errors';
import { createActivities, type KeylessActivities as KeyActivities } from '../../activities';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { issuedKeyStrings, leakedKeyStrings, recordActivities, type RecordedCall } from './keys-recorder';
import { failureOf } from '../support/failures';

const KEYS = `projects/${DEMO_PROJECT}/locations/global/keys`;
const MODEL = 'gemini-2.5-flash';

let cloud: TestCloud;
let keys: KeyActivities;
const calls: RecordedCall[] = [];

beforeAll(async () => {
  cloud = await startTestCloud({
    tweak: (fixture) => {
      const extra = ['egress-pinned', 'restore-me', 'contested', 'stale-delete'].map((keyId) => ({
        project: DEMO_PROJECT,
        keyId,
        displayName: `${keyId} key`,
        annotations: { 'keyless.dev/pipeline': keyId },
      }));
      fixture.keys = [...(fixture.keys ?? []), ...extra];
    },
  });
  keys = recordActivities(createActivities({ clients: cloud.clients }), calls);
});
afterAll(async () => {
  await cloud?.stop();
});

/** Mutating API Keys calls on one key since `since` (emulator time). */
async function mutationsOf(keyId: string, since: string): Promise<{ method: string; path: string; status: number }[]> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/audit?surface=apikeys&since=${encodeURIComponent(since)}`);
  const { entries } = (await res.json()) as { entries: { method: string; path: string; status: number }[] };
  return entries.filter((e) => e.path.split('?')[0]!.split('/').some((segment) => segment === keyId || segment.startsWith(`${keyId}:`)));
}

async function emulatorNow(): Promise<string> {
  return ((await (await fetch(`${cloud.emulator.baseUrl}/admin/v1/clock`)).json()) as { now: string }).now;
}

/** Someone other than keyless edits the key (a colleague in the console). */
async function renameBehindKeylessBack(apiKey: string, displayName: string): Promise<void> {
  const [op] = await cloud.clients.apiKeys.updateKey({ key: { name: apiKey, displayName }, updateMask: { paths: ['display_name'] } });
  await op.promise();
}

describe('finalizeKey', () => {
  it('restrict: generativelanguage only, once, however often it runs', async () => {
    const apiKey = `${KEYS}/report-digest`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'report-digest' });
    const since = await emulatorNow();
    const first = await keys.finalizeKey({ apiKey, action: 'restrict', expectedEtag: snapshot.etag });
    const second = await keys.finalizeKey({ apiKey, action: 'restrict', expectedEtag: snapshot.etag });
    expect(first).toMatchObject({ action: 'restrict', changed: true });
    expect(second).toEqual({ action: 'restrict', changed: false, etagAfter: first.etagAfter });
    expect((await mutationsOf('report-digest', since)).map((e) => e.method)).toEqual(['PATCH']);
    const { audit } = await keys.inspectKey({ apiKey, pipeline: 'report-digest' });
    expect(audit).toMatchObject({ appRestriction: 'none', apiRestriction: 'restricted', services: ['generativelanguage.googleapis.com'] });
  });

  it('restrict-ip: the egress addresses plus generativelanguage, idempotent', async () => {
    const apiKey = `${KEYS}/egress-pinned`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'egress-pinned' });
    const allowedIps = ['198.51.100.4', '198.51.100.0/24'];
    const since = await emulatorNow();
    const first = await keys.finalizeKey({ apiKey, action: 'restrict-ip', allowedIps, expectedEtag: snapshot.etag });
    const second = await keys.finalizeKey({ apiKey, action: 'restrict-ip', allowedIps: [...allowedIps].reverse(), expectedEtag: snapshot.etag });
    expect(first.changed).toBe(true);
    expect(second).toMatchObject({ changed: false, etagAfter: first.etagAfter });
    expect(await mutationsOf('egress-pinned', since)).toHaveLength(1);
    const { snapshot: after, audit } = await keys.inspectKey({ apiKey, pipeline: 'egress-pinned' });
    expect(audit).toMatchObject({ appRestriction: 'ip', services: ['generativelanguage.googleapis.com'] });
    expect(after.restrictions.serverKeyRestrictions?.allowedIps).toEqual(allowedIps);
  });

  it('restrict-ip without addresses is an invalid spec', async () => {
    const failure = await failureOf(keys.finalizeKey({ apiKey: `${KEYS}/egress-pinned`, action: 'restrict-ip', allowedIps: [], expectedEtag: 'W/"x"' }));
    expect(failure.type).toBe(ErrorType.InvalidSpec);
    expect(failure.nonRetryable).toBe(true);
  });

  it('delete refuses a key someone changed since keyless last saw it', async () => {
    const apiKey = `${KEYS}/stale-delete`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'stale-delete' });
    await renameBehindKeylessBack(apiKey, 'still in use by the data team');
    const failure = await failureOf(keys.finalizeKey({ apiKey, action: 'delete', expectedEtag: snapshot.etag }));
    expect(failure.type).toBe(ErrorType.ForeignChange);
    expect((await keys.inspectKey({ apiKey, pipeline: 'stale-delete' })).audit.state).toBe('active');
  });
});

describe('delete, undelete and restore of a migrated pipeline key', () => {
  it('given the stopgap, delete twice, undelete twice, then restore the snapshot: the key works exactly as before', async () => {
    const apiKey = `${KEYS}/nightly-summarizer`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'nightly-summarizer' });
    const stopgap = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    expect(await keys.checkKeyWorks({ apiKey, model: MODEL })).toMatchObject({ ok: true });

    const since = await emulatorNow();
    const deleted = await keys.finalizeKey({ apiKey, action: 'delete', expectedEtag: stopgap.etagAfter });
    const again = await keys.finalizeKey({ apiKey, action: 'delete', expectedEtag: stopgap.etagAfter });
    expect(deleted).toMatchObject({ action: 'delete', changed: true });
    expect(deleted.deleteTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(again).toEqual({ ...deleted, changed: false });
    expect((await keys.inspectKey({ apiKey, pipeline: 'nightly-summarizer' })).audit.state).toBe('deleted');
    expect((await keys.checkKeyWorks({ apiKey, model: MODEL })).ok).toBe(false);

    const undeleted = await keys.undeleteKey({ apiKey });
    expect(undeleted.undeleted).toBe(true);
    expect(await keys.undeleteKey({ apiKey })).toEqual({ undeleted: false, etagAfter: undeleted.etagAfter });
    expect(await keys.checkKeyWorks({ apiKey, model: MODEL })).toEqual({ ok: true, httpStatus: 200 });
    expect((await mutationsOf('nightly-summarizer', since)).map((e) => e.method)).toEqual(['DELETE', 'POST']);

    const restored = await keys.restoreKeySnapshot({ snapshot, expectedEtag: undeleted.etagAfter });
    expect(restored).toMatchObject({ restored: true, fields: ['restrictions', 'annotations'] });
    const { snapshot: now } = await keys.inspectKey({ apiKey, pipeline: 'nightly-summarizer' });
    expect(now).toMatchObject({ restrictions: snapshot.restrictions, annotations: snapshot.annotations, displayName: snapshot.displayName });
    // Unrestricted again, so the retired-key rejection is back: the key is as the pipeline left it.
    expect(await keys.checkKeyWorks({ apiKey, model: MODEL })).toMatchObject({ ok: false, reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED' });
  });

  it('undeleteKey on a live key changes nothing', async () => {
    const apiKey = `${KEYS}/ticket-triage`;
    const since = await emulatorNow();
    expect((await keys.undeleteKey({ apiKey })).undeleted).toBe(false);
    expect(await mutationsOf('ticket-triage', since)).toEqual([]);
  });
});

describe('restoreKeySnapshot', () => {
  it('puts back the snapshot once, and is a no-op when already restored', async () => {
    const apiKey = `${KEYS}/restore-me`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'restore-me' });
    const stopgap = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    const since = await emulatorNow();
    const first = await keys.restoreKeySnapshot({ snapshot, expectedEtag: stopgap.etagAfter });
    const second = await keys.restoreKeySnapshot({ snapshot, expectedEtag: stopgap.etagAfter });
    expect(first).toMatchObject({ restored: true, fields: ['restrictions', 'annotations'] });
    expect(second).toEqual({ restored: false, fields: [], etagAfter: first.etagAfter });
    expect(await mutationsOf('restore-me', since)).toHaveLength(1);
    const { audit, snapshot: now } = await keys.inspectKey({ apiKey, pipeline: 'restore-me' });
    expect(audit.blockCandidate).toBe(true);
    expect(now).toMatchObject({ restrictions: {}, annotations: snapshot.annotations, displayName: snapshot.displayName });
  });

  it('refuses to overwrite a change someone else made after keyless, naming the fields and whom to ask', async () => {
    const apiKey = `${KEYS}/contested`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'contested' });
    const stopgap = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    await renameBehindKeylessBack(apiKey, 'contested key (renamed by ops)');
    const since = await emulatorNow();
    const failure = await failureOf(keys.restoreKeySnapshot({ snapshot, expectedEtag: stopgap.etagAfter }));
    expect(failure.type).toBe(ErrorType.ForeignChange);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('restrictions, annotations, displayName');
    expect(failure.message).toContain('contested');
    expect(failure.details?.[0]).toMatchObject({ changedFields: ['restrictions', 'annotations', 'displayName'], expectedEtag: stopgap.etagAfter });
    expect(await mutationsOf('contested', since)).toEqual([]);
    const { snapshot: now } = await keys.inspectKey({ apiKey, pipeline: 'contested' });
    expect(now.displayName).toBe('contested key (renamed by ops)');
    expect(now.restrictions.apiTargets).toEqual([{ service: 'generativelanguage.googleapis.com' }]);
  });
});

describe('secrets', () => {
  it('no activity input, output or failure of this file carries a key string the emulator issued', async () => {
    expect(calls.some((c) => c.activity === 'checkKeyWorks')).toBe(true);
    expect(calls.some((c) => c.failure)).toBe(true);
    const strings = await issuedKeyStrings(cloud.clientsAs(DEMO_ORCHESTRATOR), DEMO_PROJECT);
    expect(strings.length).toBeGreaterThanOrEqual(8);
    expect(leakedKeyStrings(calls, strings)).toEqual([]);
  });
});
