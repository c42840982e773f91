// A keyless worker as a process of its own, so the reliability suite can SIGKILL it. It is the
// `keyless worker` of production with two differences for speed: it runs a prebuilt workflow
// bundle (KEYLESS_WORKFLOW_BUNDLE) and prints `ready` once it polls.
// Google credentials come from ADC, as on a VM: the emulator's metadata server (GCE_METADATA_HOST).

import { NativeConnection } from '@temporalio/worker';
import { createGoogleClients, endpointConfigFromEnv } from '../../activities/google-clients';
import { temporalConfigFromEnv } from '../../worker/config';
import { createKeylessWorker } from '../../worker/worker';

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
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('ready\n');
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
