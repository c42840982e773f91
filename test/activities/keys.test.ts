// The API-key activities, read side and stopgap, against the demo emulator with Google's own
// clients: inventory, inspection, the stopgap restriction, the live key check, a transient 503.

import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../contracts/errors';
import { createActivities, type KeylessActivities as KeyActivities } from '../../activities';
import { runInventory, type InventoryRow } from '../../client/commands/inventory';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { issuedKeyStrings, leakedKeyStrings, recordActivities, type RecordedCall } from './keys-recorder';
import { failureOf } from '../support/failures';

const KEYS = `projects/${DEMO_PROJECT}/locations/global/keys`;
const BY_NUMBER = `projects/${DEMO_PROJECT_NUMBER}/locations/global/keys`;
const EXTRA_KEYS = 650;
const AUTH_KEY_ACCOUNT = `ci-deployer@${DEMO_PROJECT}.iam.gserviceaccount.com`;

let cloud: TestCloud;
let keys: KeyActivities;
const calls: RecordedCall[] = [];

beforeAll(async () => {
  cloud = await startTestCloud({
    tweak: (fixture) => {
      const extra = Array.from({ length: EXTRA_KEYS }, (_, i) => ({
        project: DEMO_PROJECT,
        keyId: `batch-${String(i).padStart(4, '0')}`,
        displayName: `batch job ${i}`,
        restrictions: { serverKeyRestrictions: { allowedIps: ['203.0.113.7'] } },
      }));
      const specials = [
        { project: DEMO_PROJECT, keyId: 'studio-auth-key', displayName: 'studio auth key', serviceAccountEmail: AUTH_KEY_ACCOUNT, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } },
        { project: DEMO_PROJECT, keyId: 'android-app', displayName: 'android app', restrictions: { androidKeyRestrictions: { allowedApplications: [{ packageName: 'com.example.app', sha1Fingerprint: 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709' }] } } },
        { project: DEMO_PROJECT, keyId: 'ios-app', displayName: 'ios app', restrictions: { iosKeyRestrictions: { allowedBundleIds: ['com.example.ios'] } } },
      ];
      fixture.keys = [...(fixture.keys ?? []), ...extra, ...specials];
    },
  });
  keys = recordActivities(createActivities({ clients: cloud.clients }), calls);
});
afterAll(async () => {
  await cloud?.stop();
});

async function auditEntries(since: string): Promise<{ method: string; path: string; status: number; surface: string }[]> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/audit?surface=apikeys&since=${encodeURIComponent(since)}`);
  return ((await res.json()) as { entries: { method: string; path: string; status: number; surface: string }[] }).entries;
}

async function emulatorNow(): Promise<string> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/clock`);
  return ((await res.json()) as { now: string }).now;
}

describe('inventoryProject', () => {
  it('classifies every demo key as the seed audit does', async () => {
    const audits = await keys.inventoryProject({ project: DEMO_PROJECT });
    const byId = new Map(audits.map((a) => [a.keyId, a]));
    expect(byId.get('nightly-summarizer')).toMatchObject({
      name: `${BY_NUMBER}/nightly-summarizer`,
      keyType: 'standard',
      appRestriction: 'none',
      apiRestriction: 'all',
      blockCandidate: true,
      pipelines: ['nightly-summarizer'],
      state: 'active',
    });
    expect(byId.get('ticket-triage')).toMatchObject({ appRestriction: 'none', apiRestriction: 'restricted', services: ['generativelanguage.googleapis.com'], blockCandidate: false });
    expect(byId.get('report-digest')).toMatchObject({ blockCandidate: true, pipelines: ['report-digest', 'legacy-exporter'] });
    expect(byId.get('website-maps')).toMatchObject({ appRestriction: 'referrer', apiRestriction: 'restricted', services: ['maps-backend.googleapis.com'], blockCandidate: false, pipelines: [] });
    expect(byId.get('android-app')).toMatchObject({ appRestriction: 'android', apiRestriction: 'all', blockCandidate: false });
    expect(byId.get('ios-app')).toMatchObject({ appRestriction: 'ios', blockCandidate: false });
    expect(byId.get('batch-0007')).toMatchObject({ appRestriction: 'ip', apiRestriction: 'all', blockCandidate: false });
    // ApiKeysClient 2.2.2 would drop serviceAccountEmail; the inventory must still see an auth key.
    expect(byId.get('studio-auth-key')).toMatchObject({ keyType: 'auth', serviceAccountEmail: AUTH_KEY_ACCOUNT });
    expect(audits.filter((a) => a.blockCandidate).map((a) => a.keyId).sort()).toEqual(['nightly-summarizer', 'report-digest']);
  });

  it(`lists all keys across pages of 300 (${5 + 3 + EXTRA_KEYS} keys), heartbeating per page`, async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const audits = (await env.run(keys.inventoryProject, { project: DEMO_PROJECT })) as Awaited<ReturnType<KeyActivities['inventoryProject']>>;
    expect(audits).toHaveLength(5 + 3 + EXTRA_KEYS);
    expect(new Set(audits.map((a) => a.name)).size).toBe(audits.length);
    expect(beats).toHaveLength(Math.ceil(audits.length / 300));
    expect(beats.at(-1)).toEqual({ project: DEMO_PROJECT, pages: 3, keys: audits.length });
  });

  it('is read-only and returns no key material', async () => {
    const since = await emulatorNow();
    const audits = await keys.inventoryProject({ project: DEMO_PROJECT });
    expect(JSON.stringify(audits)).not.toMatch(/keyString|AIza|AQ\./);
    expect(await auditEntries(since)).toEqual([]);
  });
});

describe('keyless inventory (runInventory)', () => {
  it('prints a table with block candidates first and marked, and returns the rows', async () => {
    const printed: string[] = [];
    const rows = await runInventory({ project: DEMO_PROJECT, json: false, clients: cloud.clients, print: (t) => printed.push(t) });
    const table = printed.join('\n').split('\n');
    expect(table[0]).toMatch(/^KEY\s+KEY ID\s+TYPE\s+APP\s+APIS\s+BLOCK\s+PIPELINES$/);
    const blockLines = table.filter((l) => l.includes('!! BLOCK CANDIDATE'));
    expect(blockLines).toHaveLength(2);
    expect(table.slice(1, 3)).toEqual(blockLines);
    expect(table.find((l) => l.includes('report-digest'))).toMatch(/report-digest,legacy-exporter$/);
    expect(table.at(-1)).toContain('2 of');
    expect(rows.find((r) => r.keyId === 'studio-auth-key')).toMatchObject({ type: 'auth', apiRestriction: 'restricted: generativelanguage.googleapis.com' });
  });

  it('--json prints the same rows as JSON', async () => {
    const printed: string[] = [];
    const rows = await runInventory({ project: DEMO_PROJECT, json: true, clients: cloud.clients, print: (t) => printed.push(t) });
    expect(JSON.parse(printed.join('')) as InventoryRow[]).toEqual(rows);
  });
});

describe('inspectKey', () => {
  it('reports the pipelines a shared key serves besides the one migrating', async () => {
    const inspection = await keys.inspectKey({ apiKey: `${KEYS}/report-digest`, pipeline: 'report-digest' });
    expect(inspection.sharedWith).toEqual(['legacy-exporter']);
    expect(inspection.audit.blockCandidate).toBe(true);
    expect(inspection.snapshot).toMatchObject({
      name: `${BY_NUMBER}/report-digest`,
      restrictions: {},
      annotations: { 'keyless.dev/pipeline': 'report-digest,legacy-exporter' },
      displayName: 'report digest + legacy exporter',
    });
    expect(inspection.snapshot.etag).toMatch(/^W\/".+"$/);
    expect(inspection.snapshot.updateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('fails a missing key with KeyNotFound, non-retryable', async () => {
    const failure = await failureOf(keys.inspectKey({ apiKey: `${KEYS}/no-such-key`, pipeline: 'x' }));
    expect(failure.type).toBe(ErrorType.KeyNotFound);
    expect(failure.nonRetryable).toBe(true);
  });

  it('reports a soft-deleted key as deleted', async () => {
    const [op] = await cloud.clients.apiKeys.deleteKey({ name: `${KEYS}/batch-0001` });
    await op.promise();
    const inspection = await keys.inspectKey({ apiKey: `${KEYS}/batch-0001`, pipeline: 'x' });
    expect(inspection.audit.state).toBe('deleted');
    expect(inspection.audit.deleteTime).toMatch(/^\d{4}-/);
  });
});

describe('stopgap', () => {
  it('a retired unrestricted key is rejected before the stopgap and accepted after it', async () => {
    const apiKey = `${KEYS}/nightly-summarizer`;
    const before = await keys.checkKeyWorks({ apiKey, model: 'gemini-2.5-flash' });
    expect(before).toEqual({ ok: false, httpStatus: 401, status: 'UNAUTHENTICATED', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED' });

    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'nightly-summarizer' });
    const since = await emulatorNow();
    const first = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    expect(first.changed).toBe(true);
    expect(first.restrictionsBefore).toEqual({});
    expect(first.etagAfter).not.toBe(snapshot.etag);
    // A retry (say, after a lost completion) answers exactly as the attempt that did the work.
    const second = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    expect(second).toEqual(first);

    const patches = (await auditEntries(since)).filter((e) => e.method === 'PATCH' && e.path.includes('nightly-summarizer'));
    expect(patches).toHaveLength(1);
    const after = await keys.inspectKey({ apiKey, pipeline: 'nightly-summarizer' });
    expect(after.audit).toMatchObject({ apiRestriction: 'restricted', services: ['generativelanguage.googleapis.com'], blockCandidate: false });

    expect(await keys.checkKeyWorks({ apiKey, model: 'gemini-2.5-flash' })).toEqual({ ok: true, httpStatus: 200 });
  });

  it('leaves a key that already admits only Gemini alone', async () => {
    const apiKey = `${KEYS}/ticket-triage`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'ticket-triage' });
    const since = await emulatorNow();
    const result = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    expect(result).toEqual({ changed: false, etagAfter: snapshot.etag, restrictionsBefore: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } });
    expect(await auditEntries(since)).toEqual([]);
  });

  it('keeps the application restriction of a key it restricts', async () => {
    const apiKey = `${KEYS}/android-app`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'x' });
    await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    const { audit, snapshot: after } = await keys.inspectKey({ apiKey, pipeline: 'x' });
    expect(audit).toMatchObject({ appRestriction: 'android', services: ['generativelanguage.googleapis.com'] });
    expect(after.restrictions.androidKeyRestrictions).toEqual(snapshot.restrictions.androidKeyRestrictions);
  });

  it('refuses to restrict a key someone changed since inspection (ForeignChange)', async () => {
    const apiKey = `${KEYS}/report-digest`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'report-digest' });
    const [op] = await cloud.clients.apiKeys.updateKey({ key: { name: snapshot.name, displayName: 'renamed by a colleague' }, updateMask: { paths: ['display_name'] } });
    await op.promise();
    const failure = await failureOf(keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag }));
    expect(failure.type).toBe(ErrorType.ForeignChange);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('report-digest, legacy-exporter');
  });

  it('survives a transient 503: the activity fails retryably, the retry succeeds', async () => {
    const apiKey = `${KEYS}/ios-app`;
    const { snapshot } = await keys.inspectKey({ apiKey, pipeline: 'x' });
    const put = await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults/apikeys`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: { count: 1, status: 503 } }),
    });
    expect(put.ok).toBe(true);
    const failure = await failureOf(keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag }));
    expect(failure.type).toBe(ErrorType.Transient);
    expect(failure.nonRetryable).toBe(false);
    const retried = await keys.restrictKeyToGemini({ apiKey, expectedEtag: snapshot.etag });
    expect(retried.changed).toBe(true);
    const faults = (await (await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults`)).json()) as { faults: Record<string, { failNext?: { count: number } }> };
    expect(faults.faults.apikeys?.failNext?.count ?? 0).toBe(0);
    expect((await keys.inspectKey({ apiKey, pipeline: 'x' })).audit.services).toEqual(['generativelanguage.googleapis.com']);
  });

  it('checkKeyWorks reads a missing key as KeyNotFound', async () => {
    const failure = await failureOf(keys.checkKeyWorks({ apiKey: `${KEYS}/no-such-key`, model: 'gemini-2.5-flash' }));
    expect(failure.type).toBe(ErrorType.KeyNotFound);
  });
});

describe('secrets', () => {
  it('no activity input, output or failure of this file carries a key string the emulator issued', async () => {
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.some((c) => c.failure)).toBe(true);
    const strings = await issuedKeyStrings(cloud.clientsAs(DEMO_ORCHESTRATOR), DEMO_PROJECT);
    expect(strings.length).toBeGreaterThanOrEqual(5 + 3 + EXTRA_KEYS);
    expect(leakedKeyStrings(calls, strings)).toEqual([]);
  });
});
