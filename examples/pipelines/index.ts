// Starts the sample headless jobs against the emulator (or Google, with real credentials), either
// in this process or each as a child process with its own environment, the way a scheduler would.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SAMPLE_PIPELINES, samplePipeline } from './catalog';
import { runSamplePipeline, type SampleReport, type SampleRun } from './run';

export { SAMPLE_PIPELINES, samplePipeline, type SamplePipeline } from './catalog';
export { runSamplePipeline, type SampleReport, type SampleRun } from './run';
export { ensureJobPython, PYTHON_JOB, runExecSample, type ExecSampleOptions } from './exec-job';

export interface StartSamplePipelinesOptions {
  /** The jobs' environment: KEYLESS_EMULATOR, and for child processes the ADC settings (GCE_METADATA_HOST, GOOGLE_CLOUD_PROJECT). */
  env: Record<string, string | undefined>;
  /** Where the routes are published (the specs' route.store), e.g. file://.keyless/routes. */
  routesStore: string;
  /** Stops every job after its current run. */
  stopSignal: AbortSignal | Promise<unknown>;
  intervalMs: number;
  /** Runs per job before it stops on its own (default 1,000). */
  maxRuns?: number;
  /** Which jobs (default all four). */
  pipelines?: string[];
  /** Run each job as a child process with `env` (default: in this process, whose ADC it then uses). */
  childProcesses?: boolean;
  /** Default 'impersonate': the jobs run beside keyless and act as their route's account. */
  vertexAuth?: 'adc' | 'impersonate';
  routeTtlMs?: number;
  /**
   * Jobs that run somewhere else (a simulated CI runner), by name: each its own process with only
   * this environment (plus PATH), calling Vertex as its own ADC finds it and reading its key from
   * GEMINI_API_KEY as a CI secret; none of this process's credentials reach it.
   */
  isolatedJobs?: Record<string, Record<string, string>>;
  onRun?: (run: SampleRun) => void;
}

export interface RunningSamplePipelines {
  /** Resolves with each job's totals once all stopped. */
  done: Promise<SampleReport[]>;
  stop(): Promise<SampleReport[]>;
}

export const DEFAULT_MAX_RUNS = 1_000;
// In a checkout the job runs from its TypeScript source through tsx; in the npm package, compiled.
const COMPILED = !import.meta.url.endsWith('.ts');
const MAIN = fileURLToPath(new URL(`./main.${COMPILED ? 'js' : 'ts'}`, import.meta.url));
const TSX_LOADER = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

export function startSamplePipelines(options: StartSamplePipelinesOptions): RunningSamplePipelines {
  const controller = new AbortController();
  const signal = options.stopSignal;
  if (signal instanceof AbortSignal) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', () => controller.abort(), { once: true });
  } else {
    void signal.then(() => controller.abort(), () => controller.abort());
  }
  const samples = (options.pipelines ?? SAMPLE_PIPELINES.map((p) => p.name)).map(samplePipeline);
  const common = {
    env: options.env,
    routesStore: options.routesStore,
    stopSignal: controller.signal,
    intervalMs: options.intervalMs,
    maxRuns: options.maxRuns ?? DEFAULT_MAX_RUNS,
    vertexAuth: options.vertexAuth ?? 'impersonate',
    ...(options.routeTtlMs !== undefined ? { routeTtlMs: options.routeTtlMs } : {}),
    ...(options.onRun ? { onRun: options.onRun } : {}),
  } as const;
  const done = Promise.all(
    samples.map((sample) => {
      const isolated = options.isolatedJobs?.[sample.name];
      if (isolated) return runChild(sample.name, { ...common, env: isolated, vertexAuth: 'adc', apiKeyVariable: 'GEMINI_API_KEY' }, { isolated: true });
      return options.childProcesses ? runChild(sample.name, common) : runSamplePipeline(sample, common).catch((err: unknown) => failedToStart(sample.name, err));
    }),
  );
  return {
    done,
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

/** A job that could not even start (e.g. its key could not be read): reported, not thrown. */
function failedToStart(pipeline: string, err: unknown): SampleReport {
  process.stderr.write(`sample ${pipeline} did not start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
  return { pipeline, runs: 0, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 0 } };
}

function runChild(pipeline: string, options: Parameters<typeof runSamplePipeline>[1], placement: { isolated?: boolean } = {}): Promise<SampleReport> {
  const args = [...(COMPILED ? [] : ['--import', TSX_LOADER]), MAIN, pipeline, '--routes', options.routesStore, '--interval-ms', String(options.intervalMs), '--max-runs', String(options.maxRuns), '--vertex-auth', options.vertexAuth];
  if (options.routeTtlMs !== undefined) args.push('--route-ttl-ms', String(options.routeTtlMs));
  if (options.apiKeyVariable) args.push('--api-key-env', options.apiKeyVariable);
  // The child's ADC must come from `env` alone; a parent's METADATA_SERVER_DETECTION=none would hide the metadata server.
  const inherited = placement.isolated ? { PATH: process.env.PATH } : process.env;
  const env = Object.fromEntries(Object.entries({ ...inherited, ...options.env }).filter(([k, v]) => v !== undefined && k !== 'METADATA_SERVER_DETECTION')) as Record<string, string>;
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () => child.kill('SIGTERM');
  options.stopSignal.addEventListener('abort', stop, { once: true });
  let report: SampleReport | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = parseLine(line);
    if (message?.run) options.onRun?.(message.run);
    if (message?.report) report = message.report;
  });
  return new Promise((resolve) => {
    child.on('close', () => {
      options.stopSignal.removeEventListener('abort', stop);
      resolve(report ?? failedToStart(pipeline, new Error('the child process ended without a report')));
    });
  });
}

function parseLine(line: string): { run?: SampleRun; report?: SampleReport } | undefined {
  try {
    return JSON.parse(line) as { run?: SampleRun; report?: SampleReport };
  } catch {
    return undefined;
  }
}
