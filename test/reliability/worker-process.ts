// A keyless worker as a process of its own, so the reliability suite can SIGKILL it. It is the
// `keyless worker` of production with three differences: it runs a prebuilt workflow bundle
// (KEYLESS_WORKFLOW_BUNDLE, which carries the suite's kill switch), prints `ready` once it polls,
// and kills itself at the stage boundary named in KEYLESS_TEST_KILL_AT_STAGE, or as the activity
// named in KEYLESS_TEST_KILL_AT_ACTIVITY is scheduled (see kill-switch.ts).
// Google credentials come from ADC, as on a VM: the emulator's metadata server (GCE_METADATA_HOST).

import type { InjectedSinks } from '@temporalio/worker';
import { createGoogleClients, endpointConfigFromEnv } from '../../google/clients';
import { temporalConfigFromEnv } from '../../worker/config';
import { runWorker } from '../../worker/worker';
import type { KillSwitchSinks } from './kill-switch';

const killAtStage = process.env.KEYLESS_TEST_KILL_AT_STAGE;
const killAtActivity = process.env.KEYLESS_TEST_KILL_AT_ACTIVITY;

const sinks: InjectedSinks<KillSwitchSinks> = {
  killSwitch: {
    activityScheduled: {
      fn: (info, stage, activityType) => {
        if (!(killAtStage && stage === killAtStage) && !(killAtActivity && activityType === killAtActivity)) return;
        // Pipes to the parent are written synchronously on Linux: this line arrives before the kill.
        process.stdout.write(`killed: ${info.workflowId} at stage ${stage}, before ${activityType}\n`);
        process.kill(process.pid, 'SIGKILL');
      },
      // A replay re-runs old decisions; only a live boundary kills.
      callDuringReplay: false,
    },
  },
};

async function main(): Promise<void> {
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  const bundlePath = process.env.KEYLESS_WORKFLOW_BUNDLE;
  await runWorker(
    temporalConfigFromEnv(process.env),
    stop.signal,
    { clients: createGoogleClients(endpointConfigFromEnv(process.env)), orchestratorEmail: process.env.KEYLESS_ORCHESTRATOR },
    { ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}), sinks, onReady: () => process.stdout.write('ready\n') },
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
