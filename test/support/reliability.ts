// The reliability suite's bench: a keyless worker as a child process that can be SIGKILLed and
// started again, the emulator's audit log, and the table of what the suite proved.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../../worker/worker';
import type { AuditEntry } from '../../emulator/core/state';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const workerScript = join(repoRoot, 'test/reliability/worker-process.ts');
const tsxLoader = join(repoRoot, 'node_modules/tsx/dist/loader.mjs');

const killSwitchModule = join(repoRoot, 'test/reliability/kill-switch.ts');

/** Writes the workflow bundle, with the suite's kill switch, where worker processes load it (restarts skip bundling). */
export async function writeWorkflowBundle(dir: string): Promise<string> {
  const path = join(dir, 'workflow-bundle.js');
  const bundle = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [killSwitchModule], logger: quietLogger });
  await writeFile(path, bundle.code);
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
  /** Starts a worker; with `killAtStage` it SIGKILLs itself at the first activity of that stage, with `killAtActivity` as that activity is scheduled. */
  start(options?: { killAtStage?: string; killAtActivity?: string }): Promise<void>;
  /** Resolves when the running worker process has exited, however it ended; bounded by `timeoutMs`. */
  exited(timeoutMs: number): Promise<void>;
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
    async start(startOptions = {}) {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('a worker process already runs');
      const runEnv = {
        ...env,
        ...(startOptions.killAtStage ? { KEYLESS_TEST_KILL_AT_STAGE: startOptions.killAtStage } : {}),
        ...(startOptions.killAtActivity ? { KEYLESS_TEST_KILL_AT_ACTIVITY: startOptions.killAtActivity } : {}),
      };
      const c = spawn(process.execPath, ['--import', tsxLoader, workerScript], { cwd: repoRoot, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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
    async exited(timeoutMs) {
      const c = child;
      if (!c) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        waitExit(c),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker process still running after ${timeoutMs} ms (log: ${options.logFile})`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
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

export { recordScenario, formatScenarioTable, type ScenarioRow } from './scenarios';

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };

/** Every string inside a value, payloads decoded: what a sweep for leaked secrets must search. */
export function decodedText(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return parts.join('\n');
}
