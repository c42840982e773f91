// `keyless demo`: the product on the embedded default, with nothing configured. It starts the dev
// stack (Temporal dev server, the emulator with the demo estate, a worker), the sample headless
// pipelines, prints the key audit, migrates the four sample pipelines, shows their progress and
// ends with a summary: one completes, one rolls back at the probe, one is held at soak because a
// legacy job still uses its key, and a Python job run through `keyless exec` completes too.
// nightly-summarizer runs as a simulated GitHub Actions job: its own process on a runner the
// emulator issues tokens for, calling Vertex through Workload Identity Federation with the
// configuration `keyless credentials` wrote, never with keyless's identity.

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { migrationWorkflowId } from '../../contracts/names';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import type { RunningEmulator } from '../../emulator';
import { ensureJobPython, runExecSample, startSamplePipelines, type RunningSamplePipelines, type SampleReport } from '../../examples/pipelines';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../../google/clients';
import { temporalToolsDir } from '../../worker/temporal-binaries';
import { portFlag, type CliIo, type Command } from '../command';
import { ExitCode } from '../errors';
import { DEMO_OPERATOR } from '../../emulator/core/demo';
import { approverIdToken } from '../approver-token';
import { sendDecision } from '../migrations';
import { loadSpec } from '../spec-file';
import { startDevStack, stopRequested, type DevStackOptions } from './dev';
import { runInventory } from './inventory';
import { startMigration } from './migrate';
import { credentials } from './credentials';

export const demo: Command = {
  summary: 'Run keyless end to end on the embedded default: dev server, emulator, worker, sample pipelines and their migrations',
  usage: 'keyless demo [--yes] [--json] [--port <n>] [--ui-port <n>] [--emulator-port <n>]',
  example: 'keyless demo --yes',
  options: { yes: { type: 'boolean' }, json: { type: 'boolean' }, port: { type: 'string' }, 'ui-port': { type: 'string' }, 'emulator-port': { type: 'string' } },
  positionals: [0, 0],
  // The demo prints its own progress and hides activity retries (e.g. a probe waiting out IAM propagation), which are expected.
  sdkLogLevel: 'ERROR',
  async run(args, io) {
    const outcomes = await runDemo({
      live: io.isTerminal && !args.values.json ? liveTable() : undefined,
      yes: Boolean(args.values.yes),
      port: portFlag(args, 'port'),
      uiPort: portFlag(args, 'ui-port'),
      emulatorPort: portFlag(args, 'emulator-port'),
      google: io.google,
      print: args.values.json ? () => undefined : io.print,
    });
    if (args.values.json) io.json(outcomes);
    else io.print(`\n${renderDemoSummary(outcomes)}`);
    return outcomes.length > 0 && outcomes.every((o) => o.outcome !== 'running') ? ExitCode.Ok : ExitCode.Failed;
  },
};

/** Redraws a block of lines in place on a terminal (cursor up, clear to end of screen). */
function liveTable(): (table: string) => void {
  let drawn = 0;
  return (table) => {
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    process.stdout.write(`${table}\n`);
    drawn = table.split('\n').length;
  };
}

export const DEMO_SPECS = ['nightly-summarizer', 'ticket-triage', 'report-digest', 'feedback-tagger'].map((name) => fileURLToPath(new URL(`../../examples/specs/${name}.yaml`, import.meta.url)));
/** The sample job that runs through `keyless exec` rather than the TypeScript client. */
const EXEC_PIPELINE = 'feedback-tagger';

/** The demo pipeline whose job runs on (simulated) GitHub Actions, federated. */
export const DEMO_GITHUB_JOB = 'nightly-summarizer';

export interface DemoOptions extends DevStackOptions {
  /** Approve every waiting stage without a person. */
  yes: boolean;
  print: (line: string) => void;
  /** Longest the demo waits for its migrations to settle (default 10 minutes). */
  timeoutMs?: number;
  /** Redraw a live table in place (a terminal); otherwise print a plain line per change. */
  live?: (table: string) => void;
}

/** How one migration of the demo ended. */
export interface DemoOutcome {
  pipeline: string;
  outcome: MigrationResult['outcome'] | 'running';
  stage: string;
  detail: string;
  mutations: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoOutcome[]> {
  let specs = await Promise.all(DEMO_SPECS.map((path) => loadSpec(path)));
  // Before the stack starts: a first run may install the Python job's google-genai.
  const jobPython = await ensureJobPython(pythonCandidates(), join(temporalToolsDir(), 'demo-python'), options.print).catch((err: unknown) => {
    options.print(`The Python sample job (${EXEC_PIPELINE}) is left out: ${(err as Error).message}. It needs python3 with pip.`);
    return undefined;
  });
  if (!jobPython) specs = specs.filter((s) => s.pipeline !== EXEC_PIPELINE);
  const stack = await startDevStack(options);
  const stop = stopRequested();
  const clients = options.google?.() ?? createGoogleClients(endpointConfigFromEnv(process.env));
  let samples: RunningSamplePipelines | undefined;
  const execStop = new AbortController();
  void stop.then(() => execStop.abort());
  const execSample = jobPython ? startExecSample(stack, jobPython, clients, execStop.signal) : Promise.resolve(undefined);
  try {
    const githubJob = stack.emulator ? await simulatedGithubJob(stack.emulator, clients, DEMO_SPECS[0]!, resolve(options.stateDir ?? '.keyless')) : undefined;
    // A short route TTL so the jobs follow each canary step well within the demo's 5-second bakes.
    samples = startSamplePipelines({
      env: process.env,
      routesStore: 'file://.keyless/routes',
      stopSignal: stop,
      intervalMs: 1_000,
      routeTtlMs: 1_000,
      ...(githubJob ? { isolatedJobs: { [DEMO_GITHUB_JOB]: githubJob.env } } : {}),
    });
    options.print(`Temporal UI: ${stack.uiUrl}`);
    options.print(`Google Cloud: the emulator at ${stack.emulator?.baseUrl ?? 'Google'}`);
    options.print('');
    await runInventory({ project: 'demo-project', json: false, clients, print: options.print });
    options.print('');
    if (githubJob) {
      options.print(`${DEMO_GITHUB_JOB} runs as a GitHub Actions job (a simulated runner of ${githubJob.repository}): it calls Vertex through Workload Identity Federation`);
      options.print(`with the configuration \`keyless credentials ${DEMO_GITHUB_JOB} --source github-runner\` wrote to ${githubJob.credentialsFile}; in a real repository its job is:`);
      options.print('');
      for (const line of githubJob.snippet.split('\n')) options.print(`  ${line}`);
      options.print('');
    }
    for (const spec of specs) await startOrResume(stack.client, stack.taskQueue, spec, stack.uiUrl, options.print);
    const settled = await Promise.race([followUntilSettled(stack.client, specs, options), stop.then(() => undefined)]);
    const ciJob = (await samples.stop()).find((r) => r.pipeline === DEMO_GITHUB_JOB);
    if (githubJob && ciJob) {
      options.print('');
      options.print(`${DEMO_GITHUB_JOB}'s GitHub Actions job: ${ciJob.runs} runs, ${ciJob.byAuth.vertex} on Vertex through its runner's token, STS and the account, ${ciJob.byAuth['api-key']} with the key, ${ciJob.failedRuns} failed`);
    }
    return settled ?? [];
  } finally {
    execStop.abort();
    const report = await execSample;
    if (report) options.print(`${EXEC_PIPELINE} (python3 under keyless exec): ${report.runs} runs, ${report.byAuth.vertex} on Vertex, ${report.byAuth['api-key']} on the key, ${report.failedRuns} failed`);
    await samples?.stop();
    await stack.stop();
  }
}

/** The simulated GitHub Actions job: a runner registered in the emulator, and what the job's environment holds there. */
interface SimulatedGithubJob {
  repository: string;
  credentialsFile: string;
  /** The job's whole environment: the runner's variables, its configuration, its key as a repository secret. */
  env: Record<string, string>;
  /** The workflow job `keyless credentials --format github-actions` prints for it. */
  snippet: string;
}

/**
 * Registers a runner of the repository the spec's runtime names, and has `keyless credentials`
 * write the job's configuration from the runner's variables, exactly as inside a GitHub job.
 */
async function simulatedGithubJob(emulator: RunningEmulator, clients: GoogleClients, specPath: string, stateDir: string): Promise<SimulatedGithubJob> {
  const spec = await loadSpec(specPath);
  if (spec.runtime.kind !== 'github-actions') throw new Error(`the demo's ${spec.pipeline} spec must have a github-actions runtime`);
  const { runtime } = spec;
  const runner = emulator.registerGithubRunner({
    repository: runtime.repository,
    repositoryId: runtime.repositoryId,
    repositoryOwnerId: runtime.repositoryOwnerId ?? '1',
    ...(runtime.ref ? { ref: runtime.ref } : {}),
    ...(runtime.environment ? { environment: runtime.environment } : {}),
    ...(runtime.workflowRef ? { workflowRef: runtime.workflowRef } : {}),
  });
  const runnerEnv = { ACTIONS_ID_TOKEN_REQUEST_URL: runner.ACTIONS_ID_TOKEN_REQUEST_URL!, ACTIONS_ID_TOKEN_REQUEST_TOKEN: runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN! };
  const credentialsFile = join(stateDir, 'ci', spec.pipeline, 'credentials.json');
  const command = `npx tsx examples/pipelines/main.ts ${spec.pipeline}`;
  const printed = async (values: Record<string, string>): Promise<string> => {
    const lines: string[] = [];
    const io: CliIo = {
      print: (line) => void lines.push(line),
      json: (value) => void lines.push(JSON.stringify(value)),
      env: { KEYLESS_EMULATOR: emulator.baseUrl, ...runnerEnv },
      isTerminal: false,
      google: () => clients,
      withTemporal: () => Promise.reject(new Error('keyless credentials --spec needs no Temporal')),
    };
    await credentials.run({ positionals: [spec.pipeline], values: { spec: specPath, ...values } }, io);
    return lines.join('\n');
  };
  await printed({ source: 'github-runner', output: credentialsFile });
  const snippet = await printed({ format: 'github-actions', command });
  // The job's key, as a repository secret would hold it: read once here with keyless's own rights.
  const [key] = await clients.apiKeys.getKeyString({ name: spec.apiKey });
  return {
    repository: runtime.repository,
    credentialsFile,
    snippet,
    env: {
      ...runnerEnv,
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: runtime.repository,
      ...(runtime.ref ? { GITHUB_REF: runtime.ref } : {}),
      KEYLESS_EMULATOR: emulator.baseUrl,
      GOOGLE_APPLICATION_CREDENTIALS: credentialsFile,
      // As the snippet's step hands it on: in emulator mode the client loads only this file (never ADC's search).
      KEYLESS_CREDENTIAL_CONFIG: credentialsFile,
      GOOGLE_CLOUD_PROJECT: spec.project,
      GEMINI_API_KEY: key.keyString ?? '',
    },
  };
}

/** Where a checkout already has the pinned google-genai (the test setup's .tools/python). */
function pythonCandidates(): string[] {
  return [join(temporalToolsDir(), 'python')];
}

/** How this process's own CLI is started again: compiled, or its TypeScript source through tsx in a checkout. */
function keylessCommand(): string[] {
  const main = fileURLToPath(new URL(`../main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
  if (main.endsWith('.js')) return [process.execPath, main];
  return [process.execPath, '--import', fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url)), main];
}

/**
 * Runs feedback_tagger.py once a second through `keyless exec`, in a runner's environment: its key
 * in GEMINI_API_KEY (read once, as from a CI secret), ADC of the account its runtime is attached to
 * (in the embedded default, that account's metadata server), the route cache under .keyless/.
 */
async function startExecSample(stack: { emulator?: { envFor(email: string): Promise<Record<string, string>> } }, pythonPath: string, clients: GoogleClients, signal: AbortSignal): Promise<SampleReport | undefined> {
  try {
    const [key] = await clients.apiKeys.getKeyString({ name: `projects/demo-project/locations/global/keys/${EXEC_PIPELINE}` });
    const runtime = stack.emulator ? await stack.emulator.envFor(`${EXEC_PIPELINE}@demo-project.iam.gserviceaccount.com`) : {};
    const env: Record<string, string> = {};
    // The job's libraries (google-auth) search ADC themselves: the user's own credentials must not
    // be found there, so the job gets no GOOGLE_APPLICATION_CREDENTIALS and an empty gcloud folder.
    const hidden = new Set(['METADATA_SERVER_DETECTION', 'GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_CONFIG']);
    for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !hidden.has(name)) env[name] = value;
    const gcloudConfig = resolve('.keyless', 'job-gcloud');
    await mkdir(gcloudConfig, { recursive: true, mode: 0o700 });
    Object.assign(env, runtime, {
      CLOUDSDK_CONFIG: gcloudConfig,
      ...(runtime.GCE_METADATA_HOST ? { GCE_METADATA_IP: runtime.GCE_METADATA_HOST } : {}),
      GEMINI_API_KEY: key.keyString ?? '',
      PYTHONPATH: pythonPath,
      PYTHONDONTWRITEBYTECODE: '1',
      KEYLESS_CACHE_DIR: resolve('.keyless', 'cache'),
    });
    return await runExecSample({ pipeline: EXEC_PIPELINE, project: 'demo-project', routesStore: 'file://.keyless/routes', keyless: keylessCommand(), env, stopSignal: signal, intervalMs: 1_000, maxRuns: 1_000, routeTtlMs: 1_000 });
  } catch (err) {
    process.stderr.write(`sample ${EXEC_PIPELINE} did not start: ${(err as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
}

async function startOrResume(client: Client, taskQueue: string, spec: PipelineSpec, uiUrl: string, print: (line: string) => void): Promise<void> {
  const workflowId = migrationWorkflowId(spec.project, spec.pipeline);
  const running = await client.workflow.getHandle(workflowId).describe().then((d) => d.status.name === 'RUNNING', () => false);
  // Running the demo again resumes the migrations it left in .keyless/ instead of starting over.
  if (!running) await startMigration(client, taskQueue, spec);
  print(`${spec.pipeline}: migration ${running ? 'resumed' : 'started'}: ${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
}

/** Prints each change of stage, approves when --yes, and returns once every migration has ended or is held. */
async function followUntilSettled(client: Client, specs: PipelineSpec[], options: DemoOptions): Promise<DemoOutcome[]> {
  const last = new Map<string, string>();
  const heldSince = new Map<string, number>();
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const outcomes = await Promise.all(specs.map((spec) => outcomeOf(client, spec)));
    for (const [i, spec] of specs.entries()) {
      const { status, outcome } = outcomes[i]!;
      // One line per change of stage or canary step, not per analysis.
      const where = `${outcome.outcome} ${outcome.stage} ${status?.canary?.step ?? ''} ${status?.waitingFor ?? ''}`;
      const line = outcome.outcome === 'running' ? `${outcome.stage}: ${status?.next ?? ''}` : `${outcome.outcome}: ${outcome.detail}`;
      if (!options.live && last.get(spec.pipeline) !== where) options.print(`${spec.pipeline.padEnd(20)} ${line}`);
      last.set(spec.pipeline, where);
      if (outcome.outcome === 'held') heldSince.set(spec.pipeline, heldSince.get(spec.pipeline) ?? Date.now());
      else heldSince.delete(spec.pipeline);
      const stage = status?.wait?.kind === 'approval' ? status.wait.stage : undefined;
      if (options.yes && stage) {
        // --yes approves as the demo project's operator, with the ID token `keyless approve` would send.
        await approverIdToken({ config: endpointConfigFromEnv(process.env), env: process.env, emulatorUser: DEMO_OPERATOR })
          .then(({ idToken }) => sendDecision(client, { pipeline: spec.pipeline, project: spec.project }, 'approve', { stage, idToken }))
          .catch(() => undefined);
      }
    }
    // A hold counts as an outcome once it outlasts two soaks: a job that only lagged behind the
    // route stops calling with the key, and the migration moves on by itself.
    options.live?.(renderProgress(outcomes));
    const settled = outcomes.every(({ outcome }, i) => {
      if (outcome.outcome === 'held') return Date.now() - heldSince.get(outcome.pipeline)! > 2 * durationMs(specs[i]!.soak.duration);
      return outcome.outcome !== 'running';
    });
    if (settled || Date.now() > deadline) return outcomes.map((o) => o.outcome);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function outcomeOf(client: Client, spec: PipelineSpec): Promise<{ status?: MigrationStatus; outcome: DemoOutcome }> {
  const handle = client.workflow.getHandle(migrationWorkflowId(spec.project, spec.pipeline));
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    const result = (await handle.result()) as MigrationResult;
    const detail = result.rollback ? `${result.rollback.failureType}: ${result.rollback.reason}` : `finalized (${spec.finalize.action})`;
    return { outcome: { pipeline: spec.pipeline, outcome: result.outcome, stage: result.finalStage, detail, mutations: result.mutations.length } };
  }
  const status = await handle.query<MigrationStatus>('status');
  if (status.stage === 'held') {
    const top = status.soak?.byMethod[0];
    const who = top ? `the key still sees traffic: ${status.soak!.keyRequests} requests during the soak, e.g. ${top.requests}× ${top.method.split('.').pop()} → ${top.responseCode}` : status.next;
    return { status, outcome: { pipeline: spec.pipeline, outcome: 'held', stage: status.stage, detail: who, mutations: status.mutations.length } };
  }
  return { status, outcome: { pipeline: spec.pipeline, outcome: 'running', stage: status.stage, detail: status.next, mutations: status.mutations.length } };
}

/** The live view: one row per pipeline with its stage, route, traffic and next action. */
export function renderProgress(rows: { status?: MigrationStatus; outcome: DemoOutcome }[]): string {
  const lines = [`${'pipeline'.padEnd(20)} ${'stage'.padEnd(17)} ${'vertex'.padEnd(7)} ${'traffic (vertex req/err)'.padEnd(25)} next`];
  for (const { status, outcome } of rows) {
    const analysis = status?.lastAnalysis;
    const traffic = analysis ? `${analysis.vertex.requests}/${analysis.vertex.errors} (${analysis.verdict})` : '-';
    const next = outcome.outcome === 'running' ? (status?.next ?? '') : `${outcome.outcome}: ${outcome.detail}`;
    lines.push(`${outcome.pipeline.padEnd(20)} ${outcome.stage.padEnd(17)} ${(status ? `${status.vertexPercent}%` : '-').padEnd(7)} ${traffic.padEnd(25)} ${next.slice(0, 90)}`);
  }
  return lines.join('\n');
}

/** The summary table people read at the end of the demo. */
export function renderDemoSummary(outcomes: DemoOutcome[]): string {
  const width = Math.max(8, ...outcomes.map((o) => o.pipeline.length));
  const lines = [`${'pipeline'.padEnd(width)}  ${'outcome'.padEnd(12)} ${'mutations'.padEnd(10)} detail`];
  for (const o of outcomes) lines.push(`${o.pipeline.padEnd(width)}  ${o.outcome.padEnd(12)} ${String(o.mutations).padEnd(10)} ${o.detail}`);
  return lines.join('\n');
}
