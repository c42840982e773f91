// The keyless worker: one task queue, the migration workflows and the activities built from the
// clients it is given. Many workers may share the queue to scale out.

import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { TemporalConfig, WorkerTuning } from './config';
import { installMetricsRuntime } from './metrics';

/**
 * The module holding every workflow, bundled by the worker: the TypeScript source in a checkout
 * (run through tsx), the compiled JavaScript next to this file in the npm package (dist/).
 */
export const workflowsPath = fileURLToPath(new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export interface KeylessWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activityDeps: ActivityDeps;
  /** A prebuilt bundle (tests build it once per file); bundled from workflowsPath otherwise. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Workflow sinks (the reliability suite's kill switch uses one). */
  sinks?: WorkerOptions['sinks'];
  /** Capacity settings (TemporalConfig.worker, from KEYLESS_MAX_*); the SDK's defaults where unset. */
  tuning?: WorkerTuning;
}

export async function createKeylessWorker(options: KeylessWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.activityDeps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    ...(options.sinks ? { sinks: options.sinks } : {}),
    ...options.tuning,
  });
}

/** What a worker process may add to the production worker: a prebuilt bundle, sinks, a ready signal. */
export interface RunWorkerExtras {
  workflowBundle?: KeylessWorkerOptions['workflowBundle'];
  sinks?: KeylessWorkerOptions['sinks'];
  /** Called once the worker is created and about to poll. */
  onReady?: () => void;
}

/**
 * Connects to Temporal and runs a worker until `signal` aborts (Ctrl-C, SIGTERM). With
 * `config.metricsAddress` it first installs the runtime that serves Prometheus metrics there.
 */
export async function runWorker(config: TemporalConfig, signal: AbortSignal, activityDeps: ActivityDeps, extras: RunWorkerExtras = {}): Promise<void> {
  installMetricsRuntime(config);
  const connection = await NativeConnection.connect(config.connection);
  try {
    const worker = await createKeylessWorker({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      activityDeps,
      tuning: config.worker,
      ...(extras.workflowBundle ? { workflowBundle: extras.workflowBundle } : {}),
      ...(extras.sinks ? { sinks: extras.sinks } : {}),
    });
    const shutdown = () => worker.shutdown();
    if (signal.aborted) return;
    signal.addEventListener('abort', shutdown, { once: true });
    extras.onReady?.();
    await worker.run();
  } finally {
    await connection.close();
  }
}
