// Health check of a keyless worker container: healthy when a worker of this host polls the task
// queue for workflow tasks. A live process is not enough; a worker that lost Temporal, or
// never registered, polls nothing. Exit 0 healthy, 1 not.
//   node --import tsx deploy/worker-healthcheck.ts

import { hostname } from 'node:os';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { temporalConfigFromEnv } from '../worker/config';

// The proto package is CommonJS: plain Node (the container) sees only its default export.
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** A poller seen longer ago than this no longer counts (the server keeps pollers ~5 minutes). */
const FRESH_POLL_MS = 90_000;

async function main(): Promise<number> {
  const config = temporalConfigFromEnv(process.env);
  const connection = await Connection.connect({ ...config.connection, connectTimeout: 5_000 });
  try {
    const described = await connection.workflowService.describeTaskQueue({
      namespace: config.namespace,
      taskQueue: { name: config.taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    // The TypeScript SDK names a worker `<pid>@<hostname>`; a container's hostname is its own.
    const suffix = `@${hostname()}`;
    const now = Date.now();
    const ours = (described.pollers ?? []).filter((p) => p.identity?.endsWith(suffix));
    const fresh = ours.filter((p) => now - Number(p.lastAccessTime?.seconds ?? 0) * 1_000 < FRESH_POLL_MS);
    if (fresh.length > 0) {
      process.stdout.write(`healthy: ${fresh.map((p) => p.identity).join(', ')} polling ${config.taskQueue}\n`);
      return 0;
    }
    process.stdout.write(`unhealthy: no worker of ${hostname()} polls task queue ${config.taskQueue} in namespace ${config.namespace}\n`);
    return 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stdout.write(`unhealthy: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
