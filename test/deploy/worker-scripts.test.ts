// The scripts the compose services run, run here as processes: the emulator profile's worker entry
// point (finds the orchestrator's metadata server, then starts `keyless worker`) against a real
// dev server and emulator, and the worker health check, unhealthy without a worker and healthy
// once this host's worker polls the task queue.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import type { DevServer } from '../../worker/dev-server';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { startTestDevServer, uniqueTaskQueue } from '../support/temporal';

const root = fileURLToPath(new URL('../..', import.meta.url));

let server: DevServer;
let cloud: TestCloud;
const started: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestDevServer();
  cloud = await startTestCloud();
});

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server?.stop();
  await cloud?.stop();
});

/** The environment of a compose container: Temporal's address, no test-only ADC switches. */
function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { METADATA_SERVER_DETECTION: _detection, GCE_METADATA_HOST: _metadata, GOOGLE_APPLICATION_CREDENTIALS: _adc, ...env } = process.env;
  return { ...env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default', ...extra };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string; exited: Promise<number | null> } {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return Object.assign(child, { output: () => output, exited });
}

async function healthcheck(taskQueue: string): Promise<{ code: number | null; output: string }> {
  const check = run('node', ['--import', 'tsx', 'deploy/worker-healthcheck.ts'], containerEnv({ KEYLESS_TASK_QUEUE: taskQueue }));
  const code = await check.exited;
  return { code, output: check.output() };
}

describe('given a Temporal server and the emulator', () => {
  it('when no worker polls the task queue, then the worker health check fails and says why', async () => {
    const taskQueue = uniqueTaskQueue('health');
    const { code, output } = await healthcheck(taskQueue);
    expect(code).toBe(1);
    expect(output).toContain(`unhealthy: no worker of`);
    expect(output).toContain(taskQueue);
  });

  it('when the emulator profile entry point starts, then the worker uses the orchestrator metadata server and turns healthy', { timeout: 120_000 }, async () => {
    const taskQueue = uniqueTaskQueue('compose');
    const worker = run(
      'sh',
      ['deploy/worker-on-emulator.sh'],
      containerEnv({ KEYLESS_TASK_QUEUE: taskQueue, KEYLESS_EMULATOR: cloud.emulator.baseUrl, KEYLESS_ORCHESTRATOR: DEMO_ORCHESTRATOR, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT }),
    );
    try {
      let health = { code: null as number | null, output: '' };
      for (let i = 0; i < 40 && health.code !== 0 && worker.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        health = await healthcheck(taskQueue);
      }
      expect(worker.exitCode, worker.output()).toBeNull();
      expect(health.code, health.output).toBe(0);
      expect(health.output).toMatch(new RegExp(`^healthy: \\d+@\\S+ polling ${taskQueue}`));
      // The metadata server it found is the one the emulator runs for the orchestrator.
      const metadataHost = cloud.emulator.metadataHosts[DEMO_ORCHESTRATOR];
      expect(metadataHost).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(worker.output()).toContain(`as ${DEMO_ORCHESTRATOR} (metadata server ${metadataHost})`);
      expect(worker.output()).toContain(`task queue ${taskQueue}`);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await worker.exited).toBe(0);
  });

  it('when the emulator does not know the orchestrator, then the entry point stops before starting a worker', async () => {
    const taskQueue = uniqueTaskQueue('compose');
    const worker = run(
      'sh',
      ['deploy/worker-on-emulator.sh'],
      containerEnv({ KEYLESS_TASK_QUEUE: taskQueue, KEYLESS_EMULATOR: cloud.emulator.baseUrl, KEYLESS_ORCHESTRATOR: `nobody@${DEMO_PROJECT}.iam.gserviceaccount.com`, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT }),
    );
    expect(await worker.exited).not.toBe(0);
    expect(worker.output()).toContain('cannot find the orchestrator metadata server');
    expect(worker.output()).not.toContain('keyless worker:');
  });
});
