// The benchmark's keyless worker, as a process of its own so its memory and CPU are measured
// apart from the emulator and the client. It is `keyless worker` with two differences: it runs
// the prebuilt workflow bundle in KEYLESS_WORKFLOW_BUNDLE (bundled once by the bench) and prints
// `ready` once it polls. Temporal settings and capacity come from TEMPORAL_* and KEYLESS_MAX_*
// (worker/config.ts); Google credentials from ADC through the emulator's metadata server.

import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { createGoogleClients, endpointConfigFromEnv } from '../activities/google-clients';
import { temporalConfigFromEnv } from '../worker/config';
import { createKeylessWorker } from '../worker/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function main(): Promise<void> {
  const config = temporalConfigFromEnv(process.env);
  const bundlePath = process.env.KEYLESS_WORKFLOW_BUNDLE;
  const connection = await NativeConnection.connect(config.connection);
  const worker = await createKeylessWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    activityDeps: { clients: createGoogleClients(endpointConfigFromEnv(process.env)), orchestratorEmail: process.env.KEYLESS_ORCHESTRATOR },
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
    tuning: config.worker,
  });
  process.once('SIGTERM', () => worker.shutdown());
  // BENCH_MEMLOG: this process's memory every 5 s on stderr (the main thread's heap; the rest of
  // the RSS is the workflow thread's heap and native memory).
  if (process.env.BENCH_MEMLOG) {
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (n: number) => Math.round(n / 2 ** 20);
      process.stderr.write(`memory: rss ${mb(m.rss)} MB, main heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, array buffers ${mb(m.arrayBuffers)} MB\n`);
    }, 5_000).unref();
  }
  process.stdout.write('ready\n');
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

// A normal exit, so `--cpu-prof` (BENCH_PROFILE) writes its profile.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench worker-process: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
