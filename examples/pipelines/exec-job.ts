// The demo's job that is not TypeScript: feedback_tagger.py, an unchanged google-genai job, started
// once per run through `keyless exec`, the way a scheduler (cron, a CI step) would start it. Its
// environment is a runner's: its key in GEMINI_API_KEY, Application Default Credentials of the
// account its runtime is attached to, and keyless exec choosing the backend per run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { SampleReport, SampleRun } from './run';

export const PYTHON_JOB = fileURLToPath(new URL('./feedback_tagger.py', import.meta.url));
const REQUIREMENTS = fileURLToPath(new URL('./requirements.txt', import.meta.url));
const LINE = /^keyless: \S+ run .+: (vertex|api-key) \(/m;

export interface ExecSampleOptions {
  pipeline: string;
  project: string;
  /** The spec's route.store. */
  routesStore: string;
  /** How to start the keyless CLI: the program and its first arguments (`exec …` follows). */
  keyless: string[];
  /** The job's whole environment (nothing of the caller's is added). */
  env: Record<string, string>;
  stopSignal: AbortSignal;
  intervalMs: number;
  maxRuns: number;
  routeTtlMs?: number;
  onRun?: (run: SampleRun) => void;
}

/** Runs the job every interval until stopped or `maxRuns`; a failed run is counted and the next one starts, as a scheduler would. */
export async function runExecSample(options: ExecSampleOptions): Promise<SampleReport> {
  const report: SampleReport = { pipeline: options.pipeline, runs: 0, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 0 } };
  const ttl = String((options.routeTtlMs ?? 10_000) / 1000);
  for (let n = 1; n <= options.maxRuns && !options.stopSignal.aborted; n++) {
    const args = [...options.keyless.slice(1), 'exec', '--pipeline', options.pipeline, '--store', options.routesStore, '--project', options.project, '--ttl', ttl, '--', 'python3', PYTHON_JOB, String(n)];
    const { code, stderr } = await runOnce(options.keyless[0]!, args, options.env, options.stopSignal);
    const authMode = LINE.exec(stderr)?.[1] === 'vertex' ? 'vertex' : 'api-key';
    const run: SampleRun = { pipeline: options.pipeline, run: n, authMode, ok: code === 0, status: code === 0 ? 200 : 0 };
    report.runs += 1;
    report.byAuth[authMode] += 1;
    if (!run.ok) report.failedRuns += 1;
    options.onRun?.(run);
    await sleep(options.intervalMs, undefined, { signal: options.stopSignal }).catch(() => undefined);
  }
  return report;
}

function runOnce(program: string, args: string[], env: Record<string, string>, stop: AbortSignal): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // keyless exec hands SIGTERM on to the job.
    const kill = () => child.kill('SIGTERM');
    stop.addEventListener('abort', kill, { once: true });
    child.on('error', () => resolve({ code: 127, stderr }));
    child.on('close', (code) => {
      stop.removeEventListener('abort', kill);
      resolve({ code, stderr });
    });
  });
}

/**
 * A PYTHONPATH where the job's google-genai is: the first of `candidates` that imports it, else
 * `installDir`, installed there with pip from the pinned requirements on first use (into a staging
 * folder renamed into place once pip succeeded). Throws with the reason when Python cannot do it.
 */
export async function ensureJobPython(candidates: string[], installDir: string, say: (line: string) => void): Promise<string> {
  for (const dir of [...candidates, installDir]) if (existsSync(dir) && importsGenai(dir)) return dir;
  say(`Installing google-genai for the Python sample job into ${installDir} (first use, pip)`);
  const staging = `${installDir}.partial.${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--no-deps', '--target', staging, '-r', REQUIREMENTS], {
    env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (pip.status !== 0 || !importsGenai(staging)) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`python3 -m pip could not install google-genai (${pip.error?.message ?? (pip.stderr || '').trim().split('\n').pop() ?? `exit ${pip.status}`})`);
  }
  await rm(installDir, { recursive: true, force: true });
  await rename(staging, installDir);
  return installDir;
}

function importsGenai(dir: string): boolean {
  const probe = spawnSync('python3', ['-c', 'import google.genai'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: '1' }, stdio: 'ignore', timeout: 60_000 });
  return probe.status === 0;
}
