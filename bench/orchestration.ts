// Benchmarks of the orchestration itself (not tests): one migration through Temporal versus the
// same Google calls made by a straight script, fleets of migrations on one worker, and inventory
// paging. Everything runs against the emulator and a Temporal dev server on 127.0.0.1.

import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { OAuth2Client } from 'google-auth-library';
import { createActivities, type KeylessActivities } from '../activities';
import { createGoogleClients, type GoogleClients } from '../google/clients';
import { MIGRATE_FLEET_WORKFLOW, fleetWorkflowId, type FleetSpecInput } from '../contracts/fleet';
import { MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../contracts/names';
import { validateSpec, type PipelineSpecInput } from '../contracts/spec';
import { DEMO_ORCHESTRATOR, PIPELINE_ANNOTATION, demoFixtureInput, startEmulator, type RunningEmulator } from '../emulator';
import type { DevServer } from '../worker/dev-server';
import { startDevServer } from '../worker/dev-server';
import { workflowsPath } from '../worker/worker';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const workerScript = join(repoRoot, 'bench/worker-process.ts');
const tsxLoader = join(repoRoot, 'node_modules/tsx/dist/loader.mjs');

/** A spec with no waiting: no approvals, no bake, no soak, no evidence asked for (the benchmark sends no pipeline traffic). */
export function quickSpec(pipeline: string, routesDir: string): PipelineSpecInput {
  return {
    pipeline,
    project: 'demo-project',
    apiKey: `projects/demo-project/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: `${pipeline}`.slice(0, 30) },
    vertex: { models: ['gemini-2.5-flash'] },
    // Under a fleet's load on 2 cores one sample's latency is noise; the benchmark measures orchestration.
    dualRun: { thresholds: { maxLatencyRatio: 1_000 } },
    canary: { steps: [{ percent: 10, bake: '0s' }, { percent: 50, bake: '0s' }, { percent: 100, bake: '0s' }], minRequests: 0 },
    soak: { duration: '0s', minVertexRequests: 0 },
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
  /** The workflow bundle, built once, for every worker process. */
  bundlePath: string;
  /** ADC for a worker process: the orchestrator through the emulator's metadata server. */
  googleEnv: Record<string, string>;
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
  const dir = await mkdtemp(join(tmpdir(), 'keyless-bench-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  const noop = () => undefined;
  const [server, bundle, googleEnv] = await Promise.all([
    startDevServer({ headless: true }),
    bundleWorkflowCode({ workflowsPath, logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error } }),
    emulator.envFor(DEMO_ORCHESTRATOR),
  ]);
  await writeFile(bundlePath, bundle.code);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    emulator,
    clients,
    activities,
    server,
    client,
    bundlePath,
    googleEnv,
    async stop() {
      await connection.close();
      await server.stop();
      await emulator.stop();
    },
  };
}

/** Peak resident memory of a process so far (VmHWM) and now (VmRSS), in bytes; undefined once it is gone. */
export async function procMemory(pid: number | 'self'): Promise<{ hwm: number; rss: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Node flags of the bench's worker process (BENCH_WORKER_NODE_ARGS overrides; '' for none). */
export const DEFAULT_WORKER_NODE_ARGS = '--max-old-space-size=512';

/** What a worker run measured: the worker process's peak RSS and the bench process's (emulator + client). */
export interface WorkerRun<T> {
  value: T;
  /** Peak RSS of the worker process (its VmHWM: the kernel's own high-water mark). */
  peakRssMb: number;
  /** Peak RSS of this process (the emulator and the client) while the worker ran (sampled every 100 ms). */
  benchPeakRssMb: number;
  /** From spawning the worker process to its `ready`. */
  workerStartS: number;
}

/**
 * Runs a keyless worker process (bench/worker-process.ts) on `taskQueue` while `fn` runs, and
 * samples the memory of both processes. `tuning` sets its KEYLESS_MAX_* variables; BENCH_PROFILE
 * names a folder for a CPU profile of the worker (node --cpu-prof).
 */
export async function withWorker<T>(bench: Bench, taskQueue: string, fn: () => Promise<T>, tuning: Record<string, string> = {}): Promise<WorkerRun<T>> {
  const profileDir = process.env.BENCH_PROFILE;
  // The README's advice for a worker: a heap cap, without which V8 lets a busy worker's heaps grow
  // to GBs of not-yet-collected garbage (2 GB RSS for the fleet of 1,000 before issue 9).
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? DEFAULT_WORKER_NODE_ARGS).split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), '--import', tsxLoader, workerScript];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...bench.googleEnv,
    ...tuning,
    TEMPORAL_ADDRESS: bench.server.address,
    TEMPORAL_NAMESPACE: 'default',
    KEYLESS_TASK_QUEUE: taskQueue,
    KEYLESS_WORKFLOW_BUNDLE: bench.bundlePath,
    KEYLESS_ORCHESTRATOR: DEMO_ORCHESTRATOR,
  };
  // The worker finds the orchestrator's token through the emulator's metadata server, as on a VM.
  delete env.METADATA_SERVER_DETECTION;
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
    if (process.env.BENCH_VERBOSE) process.stderr.write(chunk);
  });
  let peakWorker = 0;
  let peakBench = 0;
  const sample = async () => {
    const [worker, self] = await Promise.all([procMemory(child.pid!), procMemory('self')]);
    if (worker) peakWorker = Math.max(peakWorker, worker.hwm, worker.rss);
    if (self) peakBench = Math.max(peakBench, self.rss);
  };
  let sampler: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`bench worker not ready within 60 s: ${stderr}`)), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`bench worker exited with ${code} before it was ready: ${stderr}`));
      });
    });
    const workerStartS = (performance.now() - t0) / 1000;
    sampler = setInterval(() => void sample(), 100);
    const value = await Promise.race([
      fn(),
      exited.then((code) => {
        throw new Error(`bench worker exited with ${code} while the benchmark ran: ${stderr}`);
      }),
    ]);
    await sample();
    return { value, peakRssMb: mb(peakWorker), benchPeakRssMb: mb(peakBench), workerStartS };
  } finally {
    if (sampler) clearInterval(sampler);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(kill);
    }
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
  const account = await activities.ensureServiceAccount({ project: spec.project, accountId: spec.serviceAccount!.accountId, create: true });
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
      await withDeadline(handle.result(), 120_000, `migration ov-wf-${i}`);
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

/** What one fleet run measured. */
export interface FleetRun {
  size: number;
  /** From starting the fleet workflow to its result (the worker already polls). */
  wallS: number;
  perSecond: number;
  /** Peak RSS of the worker process. */
  peakRssMb: number;
  /** Peak RSS of the bench process (the emulator, its 10k-key estate, and the client) meanwhile. */
  benchPeakRssMb: number;
  workerStartS: number;
  /** The worker's KEYLESS_MAX_* settings in this run (empty: the product's defaults). */
  tuning: Record<string, string>;
  completed: number;
  eventsPerMigration: number;
  failures: string[];
}

/** Worker settings for fleet runs from BENCH_WORKER_ENV, e.g. `KEYLESS_MAX_CONCURRENT_ACTIVITIES=200,KEYLESS_MAX_CACHED_WORKFLOWS=100`. */
export function benchTuning(spec = process.env.BENCH_WORKER_ENV ?? ''): Record<string, string> {
  return Object.fromEntries(
    spec
      .split(',')
      .map((pair) => pair.trim())
      .filter((pair) => pair.startsWith('KEYLESS_MAX_') && pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/** A fleet of `size` quick migrations on one worker process. */
export async function fleetRun(bench: Bench, routesDir: string, size: number, concurrency: number, tuning: Record<string, string> = benchTuning()): Promise<FleetRun> {
  const taskQueue = `bench-fleet-${size}-${Date.now()}`;
  const fleet: FleetSpecInput = {
    fleet: `bench-${size}-${Date.now()}`,
    waveSize: size,
    concurrency,
    haltAtFailureRatio: 1,
    pipelines: Array.from({ length: size }, (_, i) => quickSpec(`fl${size}-${i}`, routesDir)),
  };
  let wallS = 0;
  const { value, peakRssMb, benchPeakRssMb, workerStartS } = await withWorker(
    bench,
    taskQueue,
    async () => {
      const t0 = performance.now();
      const handle = await bench.client.workflow.start(MIGRATE_FLEET_WORKFLOW, { taskQueue, workflowId: fleetWorkflowId(fleet.fleet), args: [fleet] });
      // A fleet whose workflow tasks keep failing never finishes: give up instead of hanging.
      const deadlineS = Number(process.env.BENCH_FLEET_TIMEOUT_S ?? 900);
      const result = await withDeadline(handle.result() as Promise<{ counts: Record<string, number>; members: { pipeline: string; state: string; reason?: string }[] }>, deadlineS * 1000, `fleet of ${size}`);
      wallS = (performance.now() - t0) / 1000;
      return result;
    },
    tuning,
  );
  const sample = await bench.client.workflow.getHandle(migrationWorkflowId('demo-project', `fl${size}-0`)).fetchHistory();
  const failures = value.members.filter((m) => m.state !== 'completed').map((m) => `${m.pipeline}: ${m.state}: ${m.reason ?? ''}`);
  return { size, wallS, perSecond: size / wallS, peakRssMb, benchPeakRssMb, workerStartS, tuning, completed: value.counts.completed ?? 0, eventsPerMigration: sample.events?.length ?? 0, failures };
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

/** `promise`, or an error once `ms` have passed (set BENCH_VERBOSE=1 to see the worker's log). */
async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s (BENCH_VERBOSE=1 shows the worker's log)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
