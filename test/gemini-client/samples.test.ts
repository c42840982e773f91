// The sample headless jobs against the emulator, in this process and as child processes: each
// reads its key at start, follows its route, and counts a failed run instead of crashing.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileRouteStore } from '../../route-store';
import { routeLocation } from '../../contracts/route';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { startSamplePipelines, type SampleRun } from '../../examples/pipelines';
import { startTestCloud, type TestCloud } from '../support/cloud';

let cloud: TestCloud;
let dir: string;
let store: string;
let env: Record<string, string>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  cloud = await startTestCloud({
    // report-digest's account as provision leaves it.
    tweak: (fixture) => fixture.serviceAccounts!.push({ project: DEMO_PROJECT, accountId: 'report-digest', roles: ['roles/aiplatform.user'] }),
  });
  dir = await mkdtemp(join(tmpdir(), 'keyless-samples-'));
  store = `file://${dir}`;
  // The jobs run beside keyless, as the orchestrator's identity, as in the demo.
  env = await cloud.emulator.envFor(DEMO_ORCHESTRATOR);
  Object.assign(process.env, env);
  delete process.env.METADATA_SERVER_DETECTION;
  // report-digest's key as the migration's stopgap leaves it: restricted to the Gemini API, so it works again.
  const [operation] = await cloud.clients.apiKeys.updateKey({
    key: { name: `projects/${DEMO_PROJECT}/locations/global/keys/report-digest`, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } },
    updateMask: { paths: ['restrictions'] },
  });
  await operation.promise();
  await fileRouteStore.write(routeLocation(store, 'report-digest'), {
    pipeline: 'report-digest',
    generation: 1,
    vertexPercent: 100,
    project: DEMO_PROJECT,
    location: 'global',
    serviceAccount: `report-digest@${DEMO_PROJECT}.iam.gserviceaccount.com`,
    updatedAt: new Date().toISOString(),
  });
});
afterAll(async () => {
  process.env = savedEnv;
  await cloud?.clients.apiKeys.close();
  await cloud?.clients.monitoring.close();
  await cloud?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('startSamplePipelines', () => {
  it('runs every job for its bounded number of runs on the auth its route selects', async () => {
    const runs: SampleRun[] = [];
    const samples = startSamplePipelines({ env, routesStore: store, stopSignal: new AbortController().signal, intervalMs: 5, maxRuns: 4, onRun: (r) => runs.push(r) });
    const reports = Object.fromEntries((await samples.done).map((r) => [r.pipeline, r]));
    expect(reports['ticket-triage']).toEqual({ pipeline: 'ticket-triage', runs: 4, failedRuns: 0, byAuth: { 'api-key': 4, vertex: 0 } });
    expect(reports['report-digest']).toEqual({ pipeline: 'report-digest', runs: 4, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 4 } });
    expect(reports['legacy-exporter']).toEqual({ pipeline: 'legacy-exporter', runs: 4, failedRuns: 0, byAuth: { 'api-key': 4, vertex: 0 } });
    // Its key is unrestricted, so Google's retirement already refuses it: the runs fail, the job goes on.
    expect(reports['nightly-summarizer']).toMatchObject({ runs: 4, failedRuns: 4 });
    expect(runs.filter((r) => r.pipeline === 'nightly-summarizer').map((r) => r.status)).toEqual([401, 401, 401, 401]);
  });

  it('stops every job when the stop signal fires', async () => {
    const stop = new AbortController();
    const samples = startSamplePipelines({ env, routesStore: store, stopSignal: stop.signal, intervalMs: 60_000, maxRuns: 100, pipelines: ['ticket-triage', 'legacy-exporter'], onRun: () => stop.abort() });
    const reports = await samples.done;
    expect(reports.map((r) => r.runs)).toEqual([1, 1]);
  });

  it('runs a job as a child process with the given environment', async () => {
    const runs: SampleRun[] = [];
    const samples = startSamplePipelines({ env, routesStore: store, stopSignal: new AbortController().signal, intervalMs: 5, maxRuns: 2, pipelines: ['report-digest'], childProcesses: true, onRun: (r) => runs.push(r) });
    expect(await samples.done).toEqual([{ pipeline: 'report-digest', runs: 2, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 2 } }]);
    expect(runs.map((r) => r.authMode)).toEqual(['vertex', 'vertex']);
  });
});
