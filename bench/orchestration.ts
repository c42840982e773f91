// Benchmarks of the orchestration itself (not tests): one migration through Temporal versus the
// same Google calls made by a straight script, fleets of migrations on one worker, and inventory
// paging. Everything runs against the emulator and a Temporal dev server on 127.0.0.1.

import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { OAuth2Client } from 'google-auth-library';
import { createActivities, type KeylessActivities } from '../activities';
import { createGoogleClients, type GoogleClients } from '../activities/google-clients';
import { MIGRATE_FLEET_WORKFLOW, fleetWorkflowId, type FleetSpecInput } from '../contracts/fleet';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../contracts/names';
import { validateSpec, type PipelineSpecInput } from '../contracts/spec';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION, demoFixtureInput, startEmulator, type RunningEmulator } from '../emulator';
import type { DevServer } from '../worker/dev-server';
import { startDevServer } from '../worker/dev-server';
import { workflowsPath } from '../worker/worker';

/** A spec with no waiting: no approvals, no bake, no soak. */
export function quickSpec(pipeline: string, routesDir: string): PipelineSpecInput {
  return {
    pipeline,
    project: 'demo-project',
    apiKey: `projects/demo-project/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: `${pipeline}`.slice(0, 30) },
    vertex: { models: ['gemini-2.5-flash'] },
    // Under a fleet's load on 2 cores one sample's latency is noise; the benchmark measures orchestration.
    dualRun: { thresholds: { maxLatencyRatio: 1_000 } },
    canary: { steps: [{ percent: 10, bake: '0s' }, { percent: 50, bake: '0s' }, { percent: 100, bake: '0s' }] },
    soak: { duration: '0s' },
    approvals: { cutover: false, finalize: false },
    route: { store: `file://${routesDir}` },
  };
}

export interface Bench {
  emulator: RunningEmulator;
  clients: GoogleClients;
  activities: KeylessActivities;
  server: DevServer;
  client: Client;
  stop(): Promise<void>;
}

/** The emulator with `keys` extra pipeline keys, a dev server and a client. */
export async function startBench(keys: string[]): Promise<Bench> {
  const fixture = demoFixtureInput({ iamPropagationDelaySeconds: 0 });
  for (const keyId of keys) fixture.keys!.push({ project: 'demo-project', keyId, annotations: { [PIPELINE_ANNOTATION]: keyId } });
  const emulator = await startEmulator({ fixture });
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: emulator.mintAccessToken(DEMO_ORCHESTRATOR, 12 * 3600) });
  const clients = createGoogleClients({ mode: 'emulator', baseUrl: emulator.baseUrl }, { authClient: auth });
  const activities = createActivities({ clients, orchestratorEmail: DEMO_ORCHESTRATOR });
  const server = await startDevServer({ headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    emulator,
    clients,
    activities,
    server,
    client,
    async stop() {
      await connection.close();
      await server.stop();
      await emulator.stop();
    },
  };
}

/** Runs a worker with the real activities while `fn` runs; samples its process's peak RSS. */
export async function withWorker<T>(bench: Bench, taskQueue: string, fn: () => Promise<T>, options: { maxConcurrentActivityTaskExecutions?: number } = {}): Promise<{ value: T; peakRssMb: number }> {
  const connection = await NativeConnection.connect({ address: bench.server.address });
  const worker = await Worker.create({ connection, taskQueue, workflowsPath, activities: bench.activities, ...options });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  try {
    const value = await worker.runUntil(fn());
    return { value, peakRssMb: Math.round(peak / 2 ** 20) };
  } finally {
    clearInterval(sampler);
    await connection.close();
  }
}

/** The same Google calls a migration makes, in order, without Temporal. */
export async function straightScript(activities: KeylessActivities, input: PipelineSpecInput): Promise<void> {
  const result = validateSpec(input);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  const spec = result.spec;
  const found = await activities.inspectKey({ apiKey: spec.apiKey, pipeline: spec.pipeline });
  let etag = found.snapshot.etag;
  if (found.audit.blockCandidate) etag = (await activities.restrictKeyToGemini({ apiKey: spec.apiKey, expectedEtag: etag })).etagAfter;
  await activities.checkKeyWorks({ apiKey: spec.apiKey, model: spec.vertex.models[0]! });
  const account = await activities.ensureServiceAccount({ project: spec.project, accountId: spec.serviceAccount.accountId, create: true });
  const role = await activities.ensureVertexRole({ project: spec.project, member: `serviceAccount:${account.email}` });
  await activities.ensureTokenCreator({ serviceAccountEmail: account.email });
  await activities.probeVertex({ project: spec.project, location: spec.vertex.location, models: spec.vertex.models, serviceAccountEmail: account.email, roleGrantedAt: role.confirmedAt });
  await activities.dualRun({ apiKey: spec.apiKey, project: spec.project, location: spec.vertex.location, serviceAccountEmail: account.email, models: spec.vertex.models, prompts: spec.dualRun.prompts, samples: spec.dualRun.samples, thresholds: spec.dualRun.thresholds });
  const anchor = await activities.cloudTime();
  let generation = Date.now();
  for (const step of spec.canary.steps) {
    await activities.readTraffic({ project: spec.project, keyUid: found.audit.uid!, serviceAccountUniqueId: account.uniqueId, windowStart: anchor });
    await activities.publishRoute({ store: spec.route.store, route: { pipeline: spec.pipeline, generation: ++generation, vertexPercent: step.percent, project: spec.project, location: spec.vertex.location, serviceAccount: account.email, updatedAt: new Date().toISOString() } });
  }
  await activities.readTraffic({ project: spec.project, keyUid: found.audit.uid!, serviceAccountUniqueId: account.uniqueId, windowStart: anchor });
  await activities.readTraffic({ project: spec.project, keyUid: found.audit.uid!, serviceAccountUniqueId: account.uniqueId, windowStart: anchor });
  await activities.finalizeKey({ apiKey: spec.apiKey, action: spec.finalize.action, expectedEtag: etag });
}

/** One migration on the dev server versus the straight script, after one warm-up of each. */
export async function migrationOverhead(bench: Bench, routesDir: string, runs = 3): Promise<{ keylessMs: number; scriptMs: number; overheadMs: number; ratio: number; historyEvents: number }> {
  const taskQueue = `bench-${Date.now()}`;
  const keyless: number[] = [];
  const script: number[] = [];
  let historyEvents = 0;
  await withWorker(bench, taskQueue, async () => {
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const id = migrationWorkflowId('demo-project', `ov-wf-${i}`);
      const handle = await bench.client.workflow.start(MIGRATE_PIPELINE_WORKFLOW, { taskQueue, workflowId: id, args: [quickSpec(`ov-wf-${i}`, routesDir)] });
      await handle.result();
      if (i > 0) keyless.push(performance.now() - t0);
      historyEvents = (await handle.fetchHistory()).events?.length ?? 0;
      const t1 = performance.now();
      await straightScript(bench.activities, quickSpec(`ov-sc-${i}`, routesDir));
      if (i > 0) script.push(performance.now() - t1);
    }
  });
  const keylessMs = median(keyless);
  const scriptMs = median(script);
  return { keylessMs, scriptMs, overheadMs: keylessMs - scriptMs, ratio: keylessMs / scriptMs, historyEvents };
}

/** A fleet of `size` quick migrations on one worker. */
export async function fleetRun(bench: Bench, routesDir: string, size: number, concurrency: number): Promise<{ size: number; wallS: number; perSecond: number; peakRssMb: number; completed: number; eventsPerMigration: number; failures: string[] }> {
  const taskQueue = `bench-fleet-${size}-${Date.now()}`;
  const fleet: FleetSpecInput = {
    fleet: `bench-${size}-${Date.now()}`,
    waveSize: size,
    concurrency,
    haltAtFailureRatio: 1,
    pipelines: Array.from({ length: size }, (_, i) => quickSpec(`fl${size}-${i}`, routesDir)),
  };
  const t0 = performance.now();
  const { value, peakRssMb } = await withWorker(
    bench,
    taskQueue,
    async () => {
      const handle = await bench.client.workflow.start(MIGRATE_FLEET_WORKFLOW, { taskQueue, workflowId: fleetWorkflowId(fleet.fleet), args: [fleet] });
      return (await handle.result()) as { counts: Record<string, number>; members: { pipeline: string; state: string; reason?: string }[] };
    },
    { maxConcurrentActivityTaskExecutions: 200 },
  );
  const wallS = (performance.now() - t0) / 1000;
  const sample = await bench.client.workflow.getHandle(migrationWorkflowId('demo-project', `fl${size}-0`)).fetchHistory();
  const failures = value.members.filter((m) => m.state !== 'completed').map((m) => `${m.pipeline}: ${m.state}: ${m.reason ?? ''}`);
  return { size, wallS, perSecond: size / wallS, peakRssMb, completed: value.counts.completed ?? 0, eventsPerMigration: sample.events?.length ?? 0, failures };
}

/** Inventory of every key: the activity (pageSize 300) versus the client without a page size. */
export async function inventoryPaging(bench: Bench): Promise<{ keys: number; pageSize300Ms: number; defaultPageMs: number }> {
  await bench.activities.inventoryProject({ project: 'demo-project' });
  const t0 = performance.now();
  const audits = await bench.activities.inventoryProject({ project: 'demo-project' });
  const pageSize300Ms = performance.now() - t0;
  const t1 = performance.now();
  await bench.clients.apiKeys.listKeys({ parent: 'projects/demo-project/locations/global' });
  const defaultPageMs = performance.now() - t1;
  return { keys: audits.length, pageSize300Ms, defaultPageMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
