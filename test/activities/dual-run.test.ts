// The dual-run activity against the in-process demo emulator, through the official clients: the
// key on the Gemini API, the pipeline's service account (impersonated by the orchestrator) on Vertex.

import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { OAuth2Client } from 'google-auth-library';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorType } from '../../contracts/errors';
import { createDualRunActivities, type DualRunInput, type DualRunReport } from '../../activities/dual-run';
import { withFailures } from '../../activities/failures';
import { renderDualRunMarkdown } from '../../client/render/dual-run';
import type { DualRunProgress } from '../../activities/dual-run';
import { createGoogleClients, type GoogleClients } from '../../google/clients';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT, demoFixtureInput, startEmulator, type RunningEmulator } from '../../emulator/index';

const PIPELINE_SA = `nightly-summarizer@${DEMO_PROJECT}.iam.gserviceaccount.com`;
const PIPELINE_SA_UID = '104683235001728811042';
const keyName = (keyId: string) => `projects/${DEMO_PROJECT}/locations/global/keys/${keyId}`;

interface Harness {
  emu: RunningEmulator;
  clients: GoogleClients;
  activities: ReturnType<typeof createDualRunActivities>;
}

const running: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emu) => emu.stop()));
});

/** The demo estate plus the pipeline's service account holding roles/aiplatform.user, effective at once. */
async function start(options: { bothRetirementsPast?: boolean } = {}): Promise<Harness> {
  const fixture = demoFixtureInput({ iamPropagationDelaySeconds: 0, ...options });
  fixture.serviceAccounts = [
    ...(fixture.serviceAccounts ?? []),
    { project: DEMO_PROJECT, accountId: 'nightly-summarizer', uniqueId: PIPELINE_SA_UID, roles: ['roles/aiplatform.user'] },
  ];
  const emu = await startEmulator({ fixture });
  running.push(emu);
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: emu.mintAccessToken(DEMO_ORCHESTRATOR) });
  const clients = createGoogleClients({ mode: 'emulator', baseUrl: emu.baseUrl }, { authClient });
  return { emu, clients, activities: withFailures(createDualRunActivities({ clients })) };
}

/** The demo's nightly-summarizer key is unrestricted, so refused since 2026-06-19: restrict it as the stopgap would. */
async function restrictToGemini(clients: GoogleClients, keyId: string): Promise<void> {
  const [operation] = await clients.apiKeys.updateKey({
    key: { name: keyName(keyId), restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } },
    updateMask: { paths: ['restrictions'] },
  });
  await operation.promise();
}

async function keyStringOf(clients: GoogleClients, keyId: string): Promise<string> {
  const [response] = await clients.apiKeys.getKeyString({ name: keyName(keyId) });
  return response.keyString!;
}

/** Requests Cloud Monitoring counted for a credential, on the emulator's clock. */
async function requestCount(h: Harness, credentialId: string): Promise<number> {
  const nowSeconds = Math.floor(Date.parse(h.emu.core.nowIso()) / 1000);
  const [series] = await h.clients.monitoring.listTimeSeries({
    name: `projects/${DEMO_PROJECT}`,
    filter: `metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.labels.credential_id = "${credentialId}"`,
    interval: { startTime: { seconds: nowSeconds - 3600 }, endTime: { seconds: nowSeconds + 120 } },
    aggregation: { alignmentPeriod: { seconds: 3720 }, perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' },
  });
  return series.flatMap((s) => s.points ?? []).reduce((sum, p) => sum + Number(p.value?.int64Value ?? 0), 0);
}

function input(overrides: Partial<DualRunInput> = {}): DualRunInput {
  return {
    apiKey: keyName('nightly-summarizer'),
    project: DEMO_PROJECT,
    location: 'global',
    serviceAccountEmail: PIPELINE_SA,
    models: ['gemini-2.5-flash'],
    prompts: [
      { text: 'Summarise yesterday\'s support tickets in three sentences for the morning briefing.' },
      { text: 'Classify this ticket: the export button crashes the dashboard.', json: true },
    ],
    samples: 2,
    thresholds: { minSuccessRate: 1, minSimilarity: 0.8, maxLatencyRatio: 3, allowModelVersionDrift: false },
    ...overrides,
  };
}

/** Runs the activity in a mock activity context, collecting its heartbeats. */
async function runWithHeartbeats(h: Harness, runInput: DualRunInput, heartbeatDetails?: unknown) {
  const env = new MockActivityEnvironment(heartbeatDetails === undefined ? {} : { heartbeatDetails });
  const heartbeats: DualRunProgress[] = [];
  env.on('heartbeat', (details: DualRunProgress) => heartbeats.push(structuredClone(details)));
  const report = (await env.run(h.activities.dualRun, runInput)) as DualRunReport;
  return { report, heartbeats };
}

describe('dualRun', () => {
  it('given a restricted key and a service account with aiplatform.user, the paths agree and the gate passes', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const report = await h.activities.dualRun(input());

    expect(report.mode).toBe('compare');
    expect(report.breaches).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.samples).toHaveLength(4);
    expect(report.summary.keySuccessRate).toBe(1);
    expect(report.summary.vertexSuccessRate).toBe(1);
    // Vertex answers with a few words changed: similar, not identical.
    expect(report.summary.meanSimilarity!).toBeGreaterThan(0.8);
    expect(report.summary.compared).toBe(4);
    expect(report.summary.jsonValidity.vertexRate).toBe(1);
    expect(report.summary.jsonValidity.keyRate).toBe(1);
    expect(report.summary.promptTokenMismatches).toBe(0);
    expect(report.summary.modelVersions).toEqual([{ model: 'gemini-2.5-flash', key: ['gemini-2.5-flash'], vertex: ['gemini-2.5-flash'], drift: false }]);
    // Temperature 0 and a fixed seed: every repetition of a prompt gets the same answer.
    expect(report.samples[0]!.similarity).toBe(report.samples[1]!.similarity);
    expect(renderDualRunMarkdown(report)).toContain('Dual-run passed');
  });

  it('given the ticket-triage key, already restricted, it works without a stopgap', async () => {
    const h = await start();
    const report = await h.activities.dualRun(input({ apiKey: keyName('ticket-triage'), samples: 1 }));
    expect(report.summary.keySuccessRate).toBe(1);
    expect(report.passed).toBe(true);
  });

  it('flags alias drift: gemini-flash-latest resolves differently on the two endpoints', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const report = await h.activities.dualRun(input({ models: ['gemini-flash-latest'], samples: 1 }));

    expect(report.passed).toBe(false);
    expect(report.summary.modelVersions).toEqual([
      { model: 'gemini-flash-latest', key: ['gemini-2.5-flash-preview-09-2025'], vertex: ['gemini-2.5-flash'], drift: true },
    ]);
    expect(report.breaches.some((b) => b.includes('alias drift'))).toBe(true);

    const allowed = await h.activities.dualRun(input({ models: ['gemini-flash-latest'], samples: 1, thresholds: { allowModelVersionDrift: true, minSimilarity: 0 } }));
    expect(allowed.summary.modelVersions[0]!.drift).toBe(true);
    expect(allowed.breaches.some((b) => b.includes('alias drift'))).toBe(false);
  });

  it('given every standard key refused, runs as a repair: Vertex judged alone, the dead key asked once', async () => {
    const h = await start({ bothRetirementsPast: true });
    const [key] = await h.clients.apiKeys.getKey({ name: keyName('ticket-triage') });
    const report = await h.activities.dualRun(
      input({
        apiKey: keyName('ticket-triage'),
        prompts: [
          { text: 'Triage incoming tickets about billing', expectContains: ['billing'] },
          { text: 'Return the triage label as JSON', json: true },
        ],
      }),
    );

    expect(report.mode).toBe('repair');
    expect(report.passed).toBe(true);
    expect(report.samples[0]!.key).toMatchObject({ success: false, httpStatus: 401, reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED' });
    expect(report.samples.slice(1).every((s) => s.key.skipped === true)).toBe(true);
    expect(report.samples[0]!.missingWords).toEqual([]);
    expect(report.summary.vertexSuccessRate).toBe(1);
    expect(report.summary.jsonValidity.vertexRate).toBe(1);
    expect(await requestCount(h, `apikey:${key.uid}`)).toBe(1);

    const strict = await h.activities.dualRun(
      input({ apiKey: keyName('ticket-triage'), samples: 1, prompts: [{ text: 'Triage incoming tickets', expectContains: ['refund'] }] }),
    );
    expect(strict.mode).toBe('repair');
    expect(strict.passed).toBe(false);
    expect(strict.samples[0]!.missingWords).toEqual(['refund']);
  });

  it('resumes from heartbeat details without sending a recorded sample again', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const first = await runWithHeartbeats(h, input());
    expect(first.heartbeats.map((d) => d.completed.length)).toEqual([1, 2, 3, 4]);

    const vertexBefore = await requestCount(h, `serviceaccount:${PIPELINE_SA_UID}`);
    // A worker crashed after two samples; the retry starts from their heartbeat.
    const resumed = await runWithHeartbeats(h, input(), first.heartbeats[1]);
    expect(await requestCount(h, `serviceaccount:${PIPELINE_SA_UID}`)).toBe(vertexBefore + 2);
    expect(resumed.heartbeats.map((d) => d.completed.length)).toEqual([3, 4]);
    const identity = (r: DualRunReport) => r.samples.map((s) => [s.model, s.prompt, s.sample, s.similarity, s.vertex.modelVersion]);
    expect(identity(resumed.report)).toEqual(identity(first.report));
    expect(resumed.report.passed).toBe(true);

    // Heartbeats of a different input are not this run's progress.
    const other = await runWithHeartbeats(h, input({ samples: 1 }), first.heartbeats[1]);
    expect(other.heartbeats.map((d) => d.completed.length)).toEqual([1, 2]);
  });

  it('stops when cancelled, leaving its progress in the last heartbeat', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const env = new MockActivityEnvironment();
    const heartbeats: DualRunProgress[] = [];
    env.on('heartbeat', (details: DualRunProgress) => {
      heartbeats.push(details);
      if (heartbeats.length === 1) env.cancel('CANCELLED');
    });
    const outcome = await env.run(h.activities.dualRun, input()).then(
      () => 'completed',
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(CancelledFailure);
    expect(heartbeats).toHaveLength(1);
    expect(heartbeats[0]!.completed).toHaveLength(1);
  });

  it('never lets the key string into the report, its rendering or a heartbeat', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const keyString = await keyStringOf(h.clients, 'nightly-summarizer');
    expect(keyString.length).toBeGreaterThan(10);
    const { report, heartbeats } = await runWithHeartbeats(h, input({ models: ['gemini-2.5-flash', 'gemini-flash-latest'] }));
    expect(report.summary.keySuccessRate).toBe(1);
    const everything = JSON.stringify({ report, heartbeats }) + renderDualRunMarkdown(report);
    expect(everything).not.toContain(keyString);

    // A refused key's error answers carry no key either.
    const refused = await runWithHeartbeats(h, input({ apiKey: keyName('report-digest'), samples: 1 }));
    expect(refused.report.mode).toBe('repair');
    expect(JSON.stringify(refused)).not.toContain(await keyStringOf(h.clients, 'report-digest'));
  });

  it('retries a transient 503 on one side and records the sample as answered', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    const response = await fetch(`${h.emu.baseUrl}/admin/v1/faults/vertex`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: { count: 1, status: 503 } }),
    });
    expect(response.ok).toBe(true);
    const report = await h.activities.dualRun(input({ samples: 1, prompts: [{ text: 'Summarise the night' }] }));
    expect(report.samples[0]!.vertex.success).toBe(true);
    expect(report.passed).toBe(true);
  });

  it('records a side that keeps failing as a result, not a thrown failure', async () => {
    const h = await start();
    await restrictToGemini(h.clients, 'nightly-summarizer');
    // gemini-2.5-flash-lite is not served by Vertex in europe-west4.
    const report = await h.activities.dualRun(input({ location: 'europe-west4', models: ['gemini-2.5-flash-lite'], samples: 1 }));
    expect(report.passed).toBe(false);
    expect(report.samples[0]!.key.success).toBe(true);
    expect(report.samples[0]!.vertex).toMatchObject({ success: false, httpStatus: 404 });
    expect(report.breaches.some((b) => b.includes('minSuccessRate'))).toBe(true);
  });

  it('fails typed on infrastructure: an unknown key, an account the orchestrator cannot act as, a key string as input', async () => {
    const h = await start();
    const failure = async (run: Promise<unknown>) => {
      const err = await run.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      return err as ApplicationFailure;
    };
    const missingKey = await failure(h.activities.dualRun(input({ apiKey: keyName('no-such-key'), samples: 1 })));
    expect(missingKey.type).toBe(ErrorType.KeyNotFound);
    expect(missingKey.nonRetryable).toBe(true);

    const stranger = await failure(h.activities.dualRun(input({ serviceAccountEmail: `nobody-here@${DEMO_PROJECT}.iam.gserviceaccount.com`, samples: 1 })));
    expect(stranger.type).toBe(ErrorType.PermissionDenied);

    const keyString = await keyStringOf(h.clients, 'ticket-triage');
    const pasted = await failure(h.activities.dualRun(input({ apiKey: keyString })));
    expect(pasted.type).toBe(ErrorType.InvalidSpec);
    expect(pasted.message).not.toContain(keyString);
  });
});
