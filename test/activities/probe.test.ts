// probeVertex against the demo emulator: @google/genai in Vertex mode, as the pipeline's account
// through impersonation (IAM Credentials generateAccessToken), never with a key file.

import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../contracts/errors';
import { createGoogleClients, endpointConfigFromEnv } from '../../google/clients';
import { createActivities } from '../../activities';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { failureOf } from '../support/failures';

const PROPAGATION_SECONDS = 60;

let cloud: TestCloud;
/** A second estate where new bindings take a minute to take effect on Vertex. */
let slowCloud: TestCloud;

beforeAll(async () => {
  [cloud, slowCloud] = await Promise.all([startTestCloud(), startTestCloud({ iamPropagationDelaySeconds: PROPAGATION_SECONDS })]);
});
afterAll(async () => Promise.all([cloud?.stop(), slowCloud?.stop()]));

/** A pipeline account with roles/aiplatform.user, as provision leaves it. */
async function provisioned(on: TestCloud, accountId: string, grantRole = true) {
  const provision = createActivities({ clients: on.clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  const account = await provision.ensureServiceAccount({ project: DEMO_PROJECT, accountId, create: true });
  await provision.ensureTokenCreator({ serviceAccountEmail: account.email });
  const grant = grantRole ? await provision.ensureVertexRole({ project: DEMO_PROJECT, member: account.email }) : undefined;
  return { email: account.email, uniqueId: account.uniqueId, grantedAt: grant?.confirmedAt ?? new Date().toISOString() };
}

async function admin(on: TestCloud, path: string, method: string, body?: unknown): Promise<void> {
  const res = await fetch(`${on.emulator.baseUrl}/admin/v1/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(res.ok).toBe(true);
}

describe('probeVertex', () => {
  it('answers per model with latency, finish reason and the resolved modelVersion', async () => {
    const account = await provisioned(cloud, 'probe-ok');
    const probe = createActivities({ clients: cloud.clients });
    const { results } = await probe.probeVertex({
      project: DEMO_PROJECT,
      location: 'global',
      models: ['gemini-2.5-flash', 'gemini-flash-latest'],
      serviceAccountEmail: account.email,
      roleGrantedAt: account.grantedAt,
    });
    expect(results).toEqual([
      { model: 'gemini-2.5-flash', ok: true, modelVersion: 'gemini-2.5-flash', latencyMs: expect.any(Number), finishReason: 'STOP' },
      // The alias resolves to the stable model on Vertex (to a preview on the Gemini API: drift).
      { model: 'gemini-flash-latest', ok: true, modelVersion: 'gemini-2.5-flash', latencyMs: expect.any(Number), finishReason: 'STOP' },
    ]);
    // Vertex counted both calls against the pipeline account, not the orchestrator.
    const now = Math.ceil(Date.now() / 1000);
    const [series] = await cloud.clients.monitoring.listTimeSeries({
      name: `projects/${DEMO_PROJECT}`,
      filter: `metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.labels.credential_id = "serviceaccount:${account.uniqueId}"`,
      interval: { startTime: { seconds: now - 600 }, endTime: { seconds: now + 60 } },
    });
    const requests = series.flatMap((s) => s.points ?? []).reduce((sum, p) => sum + Number(p.value?.int64Value ?? 0), 0);
    expect(requests).toBe(2);
  });

  it('impersonates from Application Default Credentials too (the production path)', async () => {
    const account = await provisioned(cloud, 'probe-adc');
    const saved = { ...process.env };
    try {
      Object.assign(process.env, await cloud.emulator.envFor(DEMO_ORCHESTRATOR));
      delete process.env.METADATA_SERVER_DETECTION;
      const adc = createGoogleClients(endpointConfigFromEnv(process.env));
      const { results } = await createActivities({ clients: adc }).probeVertex({
        project: DEMO_PROJECT,
        location: 'us-central1',
        models: ['gemini-2.5-flash-lite'],
        serviceAccountEmail: account.email,
        roleGrantedAt: account.grantedAt,
      });
      expect(results).toMatchObject([{ model: 'gemini-2.5-flash-lite', ok: true, modelVersion: 'gemini-2.5-flash-lite' }]);
      await adc.apiKeys.close();
      await adc.monitoring.close();
    } finally {
      process.env = saved;
    }
  });

  it('fails non-retryably when the model is not served in the location, naming where it is', async () => {
    const account = await provisioned(cloud, 'probe-lite');
    const probe = createActivities({ clients: cloud.clients });
    const failure = await failureOf(
      probe.probeVertex({ project: DEMO_PROJECT, location: 'europe-west4', models: ['gemini-2.5-flash-lite'], serviceAccountEmail: account.email, roleGrantedAt: account.grantedAt }),
    );
    expect(failure.type).toBe(ErrorType.ModelNotServed);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/served in global, us-central1/);
    expect(failure.details?.[0]).toMatchObject({ model: 'gemini-2.5-flash-lite', location: 'europe-west4', servedIn: ['global', 'us-central1'] });
  });

  it('retries a 403 inside the propagation window and succeeds once the grant has propagated', async () => {
    const account = await provisioned(slowCloud, 'probe-fresh');
    const probe = createActivities({ clients: slowCloud.clients });
    const input = { project: DEMO_PROJECT, location: 'global', models: ['gemini-2.5-flash'], serviceAccountEmail: account.email, roleGrantedAt: account.grantedAt };

    const early = await failureOf(probe.probeVertex(input));
    expect(early.type).toBe(ErrorType.Transient);
    expect(early.nonRetryable).toBe(false);
    expect(early.message).toContain('aiplatform.endpoints.predict');

    await admin(slowCloud, 'clock', 'POST', { advanceSeconds: PROPAGATION_SECONDS + 1 });
    const { results } = await probe.probeVertex(input);
    expect(results[0]).toMatchObject({ ok: true, modelVersion: 'gemini-2.5-flash' });
  });

  it('fails as MissingRole once the window has passed without the role', async () => {
    const account = await provisioned(cloud, 'probe-norole', false);
    const probe = createActivities({ clients: cloud.clients });
    const input = { project: DEMO_PROJECT, location: 'global', models: ['gemini-2.5-flash'], serviceAccountEmail: account.email };
    const inside = await failureOf(probe.probeVertex({ ...input, roleGrantedAt: new Date().toISOString(), propagationWindowMs: 60_000 }));
    expect(inside.type).toBe(ErrorType.Transient);
    const after = await failureOf(probe.probeVertex({ ...input, roleGrantedAt: new Date(Date.now() - 11 * 60_000).toISOString() }));
    expect(after.type).toBe(ErrorType.MissingRole);
    expect(after.nonRetryable).toBe(true);
    expect(after.message).toContain(`${account.email} lacks roles/aiplatform.user`);
  });

  it('without a grant time, measures the window from the activity\'s first attempt', async () => {
    const account = await provisioned(cloud, 'probe-attempts', false);
    const probe = createActivities({ clients: cloud.clients });
    const input = { project: DEMO_PROJECT, location: 'global', models: ['gemini-2.5-flash'], serviceAccountEmail: account.email, propagationWindowMs: 5 * 60_000 };
    // Failed attempts are the point here; keep the worker's failure log out of the output.
    const quiet = { logger: new DefaultLogger('ERROR') };
    const retried = new MockActivityEnvironment({ attempt: 3, scheduledTimestampMs: Date.now() - 60_000 }, quiet);
    expect((await failureOf(retried.run(probe.probeVertex, input))).type).toBe(ErrorType.Transient);
    const exhausted = new MockActivityEnvironment({ attempt: 9, scheduledTimestampMs: Date.now() - 6 * 60_000 }, quiet);
    expect((await failureOf(exhausted.run(probe.probeVertex, input))).type).toBe(ErrorType.MissingRole);
  });

  it('classifies quota exhaustion as a retryable Quota failure', async () => {
    const account = await provisioned(cloud, 'probe-quota');
    const probe = createActivities({ clients: cloud.clients });
    await admin(cloud, 'faults/vertex', 'PUT', { failNext: { count: 1, status: 429 } });
    try {
      const failure = await failureOf(probe.probeVertex({ project: DEMO_PROJECT, location: 'global', models: ['gemini-2.5-flash'], serviceAccountEmail: account.email, roleGrantedAt: account.grantedAt }));
      expect(failure.type).toBe(ErrorType.Quota);
      expect(failure.nonRetryable).toBe(false);
    } finally {
      await admin(cloud, 'faults/vertex', 'DELETE');
    }
  });
});
