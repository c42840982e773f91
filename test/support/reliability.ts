// The reliability suite's bench: a keyless worker as a child process that can be SIGKILLed and
// started again, the emulator's audit log, and the table of what the suite proved.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workflowBundle } from './temporal';
import type { AuditEntry } from '../../emulator/core/state';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const workerScript = join(repoRoot, 'test/reliability/worker-process.ts');
const tsxLoader = join(repoRoot, 'node_modules/tsx/dist/loader.mjs');

/** Writes the file's workflow bundle where a worker process can load it, so restarts skip bundling. */
export async function writeWorkflowBundle(dir: string): Promise<string> {
  const path = join(dir, 'workflow-bundle.js');
  await writeFile(path, (await workflowBundle()).code);
  return path;
}

export interface WorkerProcessOptions {
  temporalAddress: string;
  taskQueue: string;
  bundlePath: string;
  /** The orchestrator's ADC environment from `emulator.envFor(...)`. */
  googleEnv: Record<string, string>;
  orchestratorEmail: string;
  /** Output of every run, appended. */
  logFile: string;
}

/** A worker process that can be killed without warning and started again. */
export interface WorkerProcess {
  /** How many times a worker process was started. */
  readonly starts: number;
  start(): Promise<void>;
  /** SIGKILL: no shutdown, no completion of in-flight tasks. */
  kill(): Promise<void>;
  /** SIGTERM then wait; safe when none runs. */
  stop(): Promise<void>;
}

export function workerProcess(options: WorkerProcessOptions): WorkerProcess {
  let child: ChildProcess | undefined;
  let starts = 0;
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.googleEnv,
    TEMPORAL_ADDRESS: options.temporalAddress,
    KEYLESS_TASK_QUEUE: options.taskQueue,
    KEYLESS_WORKFLOW_BUNDLE: options.bundlePath,
    KEYLESS_ORCHESTRATOR: options.orchestratorEmail,
  };
  // The test process turns metadata detection off; the worker must find the emulator's metadata server.
  delete env.METADATA_SERVER_DETECTION;

  const waitExit = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => c.once('exit', () => resolve()));
  };

  return {
    get starts() {
      return starts;
    },
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('a worker process already runs');
      const c = spawn(process.execPath, ['--import', tsxLoader, workerScript], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      starts++;
      c.stderr!.pipe(log, { end: false });
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(() => reject(new Error(`worker process not ready within 60 s (log: ${options.logFile})`)), 60_000);
        c.stdout!.on('data', (chunk: Buffer) => {
          log.write(chunk);
          seen += chunk.toString();
          if (seen.includes('ready\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
        c.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`worker process exited with ${code} before it was ready (log: ${options.logFile})`));
        });
      });
    },
    async kill() {
      const c = child;
      if (!c) return;
      c.kill('SIGKILL');
      await waitExit(c);
    },
    async stop() {
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await waitExit(c);
      clearTimeout(timer);
      log.end();
    },
  };
}

/** One mutating request the emulator served, as its audit log records it. */
export type { AuditEntry } from '../../emulator/core/state';

export async function auditLog(baseUrl: string): Promise<AuditEntry[]> {
  const response = await fetch(`${baseUrl}/admin/v1/audit?limit=20000`);
  if (!response.ok) throw new Error(`audit log: HTTP ${response.status}`);
  return ((await response.json()) as { entries: AuditEntry[] }).entries;
}

/** Polls `read` (real time) until `done` holds; bounded by `timeoutMs`. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined);
    if (last !== undefined && done(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

/** One row of the suite's closing table. */
export interface ScenarioRow {
  scenario: string;
  runs: number;
  outcome: string;
}

export function formatScenarioTable(rows: ScenarioRow[]): string {
  const header: ScenarioRow = { scenario: 'scenario', runs: 0, outcome: 'outcome' };
  const width = Math.max(...[header, ...rows].map((r) => r.scenario.length));
  const line = (r: ScenarioRow, runs: string) => `${r.scenario.padEnd(width)} | ${runs.padStart(4)} | ${r.outcome}`;
  return [line(header, 'runs'), `${'-'.repeat(width)}-+------+${'-'.repeat(20)}`, ...rows.map((r) => line(r, String(r.runs)))].join('\n');
}
