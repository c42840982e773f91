// Real Temporal servers for the suites: the pinned dev server or the time-skipping test server,
// on free ports, always stopped by the file's afterAll, even when a test fails.

import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { registerSearchAttributes } from '../../worker/search-attributes';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { temporalCliPath, temporalTestServerPath } from '../../worker/temporal-binaries';
import type { ActivityDeps } from '../../activities';
import { createKeylessWorker, workflowsPath } from '../../worker/worker';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return bundle;
}

/** A task queue no other test uses. */
export function uniqueTaskQueue(label = 'test'): string {
  return `${label}-${randomUUID()}`;
}

/** Runs `body` while a keyless worker serves a task queue of its own (named after `label`) on the server at `address`. */
export async function withKeylessWorker<T>(address: string, activityDeps: ActivityDeps, label: string, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue(label);
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createKeylessWorker({ connection, namespace: 'default', taskQueue, workflowBundle: await workflowBundle(), activityDeps });
    return await worker.runUntil(() => body(taskQueue));
  } finally {
    await connection.close();
  }
}

/** The Java time-skipping server: timers of days complete in milliseconds. */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/**
 * The pinned Temporal CLI dev server as a test environment (real time, the real server's limits,
 * such as its 2 MB payload limit, which the time-skipping server does not enforce).
 */
export async function startLocalTestServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalCliPath() }, ui: false },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** The pinned Temporal CLI dev server, headless, in memory. */
export async function startTestDevServer(): Promise<DevServer> {
  return startDevServer({ headless: true });
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
