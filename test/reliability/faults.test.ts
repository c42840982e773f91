// Cloud faults: every Google surface answering a share of its calls with 503 and 429, slowly; a
// surface that stays down past the retry budget; and a rollback that itself meets faults. On the
// time-skipping server (retry backoff costs no real time) with the real activities and Google's
// clients against the emulator; the emulator's audit log says what really changed.

import { temporal } from '@temporalio/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rollbackSignal, statusQuery } from '../../contracts/messages';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus, Mutation } from '../../contracts/status';
import { CLOUD_SURFACES, clearFaults, setFaults, watchTraffic, type CloudSurface, type FaultInput, type TrafficTally } from '../support/failures';
import { startMigrationBench, type MigrationBench } from '../support/migration-env';
import { auditLog, type AuditEntry } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const CLEAN = 'flt-clean';
const FLAKY = 'flt-flaky';
const RM_DOWN = 'flt-rm-down';
const IAM_DOWN = 'flt-iam-down';
const UNWIND = 'flt-unwind';
const PROJECT = 'demo-project';
const BUCKET = 'demo-project-keyless-routes';
/** Route documents in Cloud Storage, so the storage surface is on the path too. */
const STORE = `gs://${BUCKET}/faults`;
/** Canary traffic per path during the 50 % step. */
const CANARY_CALLS = 200;

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([CLEAN, FLAKY, RM_DOWN, IAM_DOWN, UNWIND]);
});

afterEach(async () => {
  await clearFaults(bench.cloud.emulator.baseUrl);
});

afterAll(async () => {
  await bench?.stop();
});

const keyName = (pipeline: string) => `projects/${PROJECT}/locations/global/keys/${pipeline}`;
const accountEmail = (pipeline: string) => `${pipeline}-sa@${PROJECT}.iam.gserviceaccount.com`;

function faultSpec(pipeline: string, overrides: Partial<PipelineSpecInput> = {}): PipelineSpecInput {
  return bench.spec(pipeline, {
    approvals: { cutover: false, finalize: false },
    route: { store: STORE },
    canary: {
      // The test sends canary traffic in the 50 % step only: the 100 % step advances on its bake.
      steps: [
        { percent: 50, bake: '10m', minRequests: 50 },
        { percent: 100, bake: '10m', minRequests: 0 },
      ],
      analysisInterval: '5m',
      // Both paths see the same 25 % of failures; over 200 calls each, the two measured rates
      // differ by chance with a standard deviation of 4.3 points, so the gate sits at 3.5 of them.
      // The default gate (2 points) would call about a third of such runs a breach.
      maxErrorRateDelta: 0.15,
    },
    soak: { duration: '1h' },
    ...overrides,
  });
}

async function keyOf(pipeline: string) {
  const [key] = await bench.cloud.clients.apiKeys.getKey({ name: keyName(pipeline) });
  return key;
}

async function keyStringOf(pipeline: string): Promise<string> {
  const [{ keyString }] = await bench.cloud.clients.apiKeys.getKeyString({ name: keyName(pipeline) });
  return keyString!;
}

async function accountExists(email: string): Promise<boolean> {
  return bench.cloud.clients.iam.projects.serviceAccounts.get({ name: `projects/${PROJECT}/serviceAccounts/${email}` }).then(
    () => true,
    (err: { response?: { status?: number } }) => {
      if (err.response?.status === 404) return false;
      throw err;
    },
  );
}

/** Members of the project's roles/aiplatform.user binding. */
async function vertexUsers(): Promise<string[]> {
  const { data } = await bench.cloud.clients.resourceManager.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
  return (data.bindings ?? []).filter((b) => b.role === 'roles/aiplatform.user').flatMap((b) => b.members ?? []);
}

async function routeOf(pipeline: string): Promise<{ generation: number; vertexPercent: number } | undefined> {
  const file = bench.cloud.clients.storage.bucket(BUCKET).file(`faults/${PROJECT}/${pipeline}.json`);
  const [exists] = await file.exists();
  if (!exists) return undefined;
  const [content] = await file.download();
  return JSON.parse(content.toString('utf8'));
}

/** Mutations as kind and target, the pipeline's own name taken out so two pipelines' runs compare. */
function shapeOf(mutations: Mutation[], pipeline: string): string[] {
  return mutations.map((m) => `${m.kind} ${m.target.split(pipeline).join('<p>')}`);
}

/** What the key looks like, apart from what differs between two keys anyway (name, etag, uid, times). */
async function keyStateOf(pipeline: string) {
  const key = await keyOf(pipeline);
  return {
    restrictions: JSON.parse(JSON.stringify(key.restrictions ?? {})),
    annotations: Object.keys(key.annotations ?? {}).sort(),
    deleted: Boolean(key.deleteTime),
  };
}

/** Sends `calls` generateContent requests through each path, a few at a time, as the pipeline would. */
async function canaryTraffic(pipeline: string, keyString: string, calls: number): Promise<void> {
  const viaKey = bench.cloud.clients.genai({ kind: 'gemini', apiKey: keyString });
  const viaVertex = bench.cloud.clientsAs(accountEmail(pipeline)).genai({ kind: 'vertex', project: PROJECT, location: 'global' });
  const queue = Array.from({ length: calls * 2 }, (_, i) => (i % 2 === 0 ? viaKey : viaVertex));
  const sender = async () => {
    for (let ai = queue.pop(); ai; ai = queue.pop()) {
      await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'nightly summary' }).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: 8 }, sender));
}

const bakingStep = (step: number) => (s: MigrationStatus) =>
  s.stage === 'rolling-back' || s.stage === 'rolled-back' || (s.stage === 'canary' && s.canary?.step === step && s.next.includes('baking until'));

/** Runs a migration to its end, sending canary traffic once the 50 % step has taken its baseline. */
async function migrateWithCanaryTraffic(pipeline: string, keyString: string): Promise<MigrationResult> {
  return bench.withWorker(async (taskQueue) => {
    const handle = await bench.start(faultSpec(pipeline), taskQueue);
    const status = await bench.waitSkipping(() => handle.query(statusQuery), bakingStep(1), `${pipeline} baking canary step 1`, '2s');
    if (status.stage === 'canary') await canaryTraffic(pipeline, keyString, CANARY_CALLS);
    return (await handle.result()) as MigrationResult;
  });
}

/** Runs `fn` with `fault` on `surfaces`, counting what the emulator served meanwhile; faults are cleared after. */
async function underFaults<T>(surfaces: readonly CloudSurface[], fault: FaultInput, fn: () => Promise<T>): Promise<{ value: T; tally: TrafficTally; seconds: number }> {
  const watch = watchTraffic(bench.cloud.emulator.core);
  const started = Date.now();
  try {
    await setFaults(bench.cloud.emulator.baseUrl, surfaces, fault);
    const value = await fn();
    return { value, tally: watch.tally(), seconds: (Date.now() - started) / 1000 };
  } finally {
    await clearFaults(bench.cloud.emulator.baseUrl);
    watch.stop();
  }
}

const ok = (e: AuditEntry) => e.status >= 200 && e.status < 300;

/** The activity whose last failure ended a run: its type, attempts and why Temporal stopped retrying it. */
function lastFailedActivity(history: temporal.api.history.v1.IHistory) {
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const failure = events.filter((e) => e.activityTaskFailedEventAttributes).at(-1)?.activityTaskFailedEventAttributes;
  if (!failure) throw new Error('no activity failed');
  return {
    activityType: byId.get(Number(failure.scheduledEventId))?.activityTaskScheduledEventAttributes?.activityType?.name ?? '',
    attempts: byId.get(Number(failure.startedEventId))?.activityTaskStartedEventAttributes?.attempt ?? 0,
    retryState: failure.retryState,
  };
}

describe('given every Google surface failing a quarter of its calls', () => {
  it('when a migration runs under 20 % 503s, 5 % 429s and 15 ms added latency everywhere, then it ends exactly as a clean run does', async () => {
    const [cleanKey, flakyKey] = [await keyStringOf(CLEAN), await keyStringOf(FLAKY)];
    const clean = await migrateWithCanaryTraffic(CLEAN, cleanKey);
    const { value: flaky, tally, seconds } = await underFaults(CLOUD_SURFACES, { errorRates: { '503': 0.2, '429': 0.05 }, latencyMs: 15 }, () =>
      migrateWithCanaryTraffic(FLAKY, flakyKey),
    );

    // The faults reached every surface the migration uses, generative and admin alike.
    for (const surface of ['apikeys', 'iam', 'resourcemanager', 'iamcredentials', 'gemini', 'vertex', 'monitoring', 'storage'] as const) {
      expect(tally.calls[surface], `calls to ${surface}`).toBeGreaterThan(0);
    }
    expect(tally.totalFaults).toBeGreaterThan(tally.totalCalls * 0.15);

    expect(clean.outcome).toBe('completed');
    expect(flaky.outcome, flaky.rollback?.reason).toBe('completed');
    expect(flaky.repair).toBe(clean.repair);
    expect(shapeOf(flaky.mutations, FLAKY)).toEqual(shapeOf(clean.mutations, CLEAN));
    const generations = (r: MigrationResult) => r.mutations.filter((m) => m.kind === 'route-published').length;
    expect(generations(flaky)).toBe(generations(clean));
    expect(await keyStateOf(FLAKY)).toEqual(await keyStateOf(CLEAN));
    expect((await routeOf(FLAKY))?.vertexPercent).toBe(100);
    expect(await accountExists(accountEmail(FLAKY))).toBe(true);

    // The canary compared like with like: both paths carried the faults, Monitoring counted them
    // on both, and the difference stayed within chance.
    const step1 = (r: MigrationResult) => r.canary.filter((a) => a.step === 1).at(-1)!;
    expect(step1(clean)).toMatchObject({ verdict: 'healthy', key: { requests: CANARY_CALLS, errors: 0 }, vertex: { requests: CANARY_CALLS, errors: 0 } });
    const flakyStep = step1(flaky);
    expect(flakyStep).toMatchObject({ verdict: 'healthy', key: { requests: CANARY_CALLS }, vertex: { requests: CANARY_CALLS } });
    expect(flakyStep.key.errorRate).toBeGreaterThan(0.1);
    expect(flakyStep.vertex.errorRate).toBeGreaterThan(0.1);
    expect(flaky.canary.every((a) => a.verdict !== 'breach')).toBe(true);

    recordScenario({
      scenario: 'faults: 20 % 503 + 5 % 429 + 15 ms on every surface',
      runs: 1,
      outcome:
        `completed in ${seconds.toFixed(1)} s; ${tally.totalCalls} calls, ${tally.totalFaults} faults injected; same ${flaky.mutations.length} mutations and key state as the clean run; ` +
        `canary step 1 error rates key ${(flakyStep.key.errorRate * 100).toFixed(1)} % vs Vertex ${(flakyStep.vertex.errorRate * 100).toFixed(1)} %: healthy`,
    });
  });
});

describe('given a surface that stays down past the retry budget', () => {
  it.each([
    { surface: 'resourcemanager' as const, pipeline: RM_DOWN, call: 'read the IAM policy of projects/demo-project', done: ['key-restricted', 'account-created'], undo: ['account-deleted', 'key-restored'] },
    { surface: 'iam' as const, pipeline: IAM_DOWN, call: `read service account ${accountEmail(IAM_DOWN)}`, done: ['key-restricted'], undo: ['key-restored'] },
  ])('when $surface answers 503 to every call, then the migration rolls back cleanly, naming the call', async ({ surface, pipeline, call, done, undo }) => {
    const auditStart = (await auditLog(bench.cloud.emulator.baseUrl)).length;
    const before = await keyStateOf(pipeline);
    const { value, tally, seconds } = await underFaults([surface], { errorRates: { '503': 1 } }, () =>
      bench.withWorker(async (taskQueue) => {
        const handle = await bench.start(faultSpec(pipeline), taskQueue);
        const result = (await handle.result()) as MigrationResult;
        return { result, failed: lastFailedActivity(await handle.fetchHistory()) };
      }),
    );
    const { result, failed } = value;

    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('Transient');
    expect(result.rollback?.reason).toContain(`${failed.activityType} failed: ${call}: 503 UNAVAILABLE`);
    expect(result.mutations.map((m) => m.kind)).toEqual([...done, ...undo]);
    expect(result.mutations.filter((m) => done.includes(m.kind)).every((m) => m.undoneAt)).toBe(true);
    // Temporal spent the activity's whole retry budget, and each attempt sent one request: no
    // client library retried underneath, sleeping in real time.
    expect(failed.retryState).toBe(temporal.api.enums.v1.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
    expect(failed.attempts).toBeGreaterThanOrEqual(10);
    expect(tally.calls[surface]).toBe(failed.attempts);
    expect(tally.faults[surface]).toEqual({ '503': failed.attempts });

    // Undone in the cloud, not only in the record.
    expect(await keyStateOf(pipeline)).toEqual(before);
    expect(await accountExists(accountEmail(pipeline))).toBe(false);
    expect(await vertexUsers()).not.toContain(`serviceAccount:${accountEmail(pipeline)}`);
    expect(await routeOf(pipeline)).toBeUndefined();
    const changes = (await auditLog(bench.cloud.emulator.baseUrl)).slice(auditStart).filter(ok);
    expect(changes.filter((e) => e.path.endsWith(`/keys/${pipeline}`)).map((e) => e.method)).toEqual(['PATCH', 'PATCH']);

    recordScenario({
      scenario: `faults: ${surface} down (503 on every call)`,
      runs: 1,
      outcome: `rolled back in ${seconds.toFixed(1)} s after ${failed.attempts} attempts of ${failed.activityType}, one request each; ${undo.join(', ')} done; key as before, no account or binding left`,
    });
  });
});

describe('given a rollback that meets faults itself', () => {
  it('when storage, API Keys, Resource Manager and IAM fail their next calls and a share after, then every compensation is done exactly once', async () => {
    const spec = faultSpec(UNWIND, { canary: { steps: [{ percent: 50, bake: '1h' }, { percent: 100, bake: '1h' }], analysisInterval: '10m' } });
    const compensated: CloudSurface[] = ['storage', 'apikeys', 'resourcemanager', 'iam'];
    const { result, tally, seconds, changes } = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      await bench.waitSkipping(() => handle.query(statusQuery), bakingStep(1), `${UNWIND} baking canary step 1`, '2s');
      const auditStart = (await auditLog(bench.cloud.emulator.baseUrl)).length;
      const run = await underFaults(compensated, { failNext: { count: 3, status: 503 }, errorRates: { '503': 0.2, '429': 0.1 }, latencyMs: 20 }, async () => {
        await handle.signal(rollbackSignal, { by: 'oncall@example.com', reason: 'faults drill' });
        return (await handle.result()) as MigrationResult;
      });
      return { result: run.value, tally: run.tally, seconds: run.seconds, changes: (await auditLog(bench.cloud.emulator.baseUrl)).slice(auditStart) };
    });

    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback).toMatchObject({ reason: 'faults drill', by: 'oncall@example.com' });
    const undo = result.mutations.slice(result.mutations.findIndex((m) => m.detail.endsWith(': 0% on Vertex')));
    // Newest first: the route back to the key, the binding, the account, then the stopgap.
    expect(undo.map((m) => m.kind)).toEqual(['route-published', 'role-removed', 'account-deleted', 'key-restored']);
    for (const surface of compensated) expect(tally.faults[surface], `faults on ${surface}`).toBeDefined();

    // Each compensation reached the cloud once; the refused attempts changed nothing.
    const cloudChanges = changes.filter((e) => e.surface !== 'admin');
    const landed = cloudChanges.filter(ok).map((e) => `${e.method} ${e.path}`);
    const refused = cloudChanges.filter((e) => !ok(e));
    expect(landed.sort()).toEqual([
      `DELETE /v1/projects/${PROJECT}/serviceAccounts/${accountEmail(UNWIND)}`,
      // Google names a key by project number once it is read back.
      expect.stringMatching(new RegExp(`^PATCH /v2/projects/[^/]+/locations/global/keys/${UNWIND}$`)),
      `POST /upload/storage/v1/b/${BUCKET}/o`,
      `POST /v3/projects/${PROJECT}:setIamPolicy`,
    ]);
    expect(refused.length).toBeGreaterThan(0);

    expect(await routeOf(UNWIND)).toMatchObject({ vertexPercent: 0 });
    expect((await keyOf(UNWIND)).restrictions?.apiTargets ?? []).toEqual([]);
    expect(await vertexUsers()).not.toContain(`serviceAccount:${accountEmail(UNWIND)}`);
    expect(await accountExists(accountEmail(UNWIND))).toBe(false);

    recordScenario({
      scenario: 'faults: rollback under failNext 3 + 30 % 503/429 on its surfaces',
      runs: 1,
      outcome: `rolled back in ${seconds.toFixed(1)} s; ${tally.totalCalls} calls, ${tally.totalFaults} faults injected (${refused.length} refused writes); route 0 %, key restored, role removed, account deleted, each once`,
    });
  });
});
