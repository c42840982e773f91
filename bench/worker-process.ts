// The benchmark's keyless worker, as a process of its own so its memory and CPU are measured
// apart from the emulator and the client. It is `keyless worker` with two differences: it runs
// the prebuilt workflow bundle in KEYLESS_WORKFLOW_BUNDLE (bundled once by the bench) and prints
// `ready` once it polls. Temporal settings and capacity come from TEMPORAL_* and KEYLESS_MAX_*
// (worker/config.ts); Google credentials from ADC through the emulator's metadata server.

import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createGoogleClients, endpointConfigFromEnv } from '../google/clients';
import { temporalConfigFromEnv } from '../worker/config';
import { runWorker } from '../worker/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function main(): Promise<void> {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  // BENCH_MEMLOG: this process's memory every 5 s on stderr (the main thread's heap; the rest of
  // the RSS is the workflow thread's heap and native memory).
  if (process.env.BENCH_MEMLOG) {
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (n: number) => Math.round(n / 2 ** 20);
      process.stderr.write(`memory: rss ${mb(m.rss)} MB, main heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, array buffers ${mb(m.arrayBuffers)} MB\n`);
    }, 5_000).unref();
  }
  const bundlePath = process.env.KEYLESS_WORKFLOW_BUNDLE;
  await runWorker(
    temporalConfigFromEnv(process.env),
    stop.signal,
    { clients: createGoogleClients(endpointConfigFromEnv(process.env)), orchestratorEmail: process.env.KEYLESS_ORCHESTRATOR },
    { ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}), onReady: () => process.stdout.write('ready\n') },
  );
}

// A normal exit, so `--cpu-prof` (BENCH_PROFILE) writes its profile.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench worker-process: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
