// A headless job as its scheduler runs it, for scenarios about the canary's evidence: each run
// follows the pipeline's route through the real route-aware Gemini client (one auth per run) and
// makes a few generateContent calls, which the emulator serves and Cloud Monitoring counts.
// Scenarios on the time-skipping server skip an hour or a day of workflow time between runs.

import { OAuth2Client } from 'google-auth-library';
import { createGeminiClient, type AuthMode } from '../../gemini-client';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import type { MigrationBench } from './migration-env';

export interface JobRun {
  authMode: AuthMode;
  /** HTTP status of each call (200 when answered). */
  statuses: number[];
}

export interface ScheduledJob {
  /** One run of the job: `calls` calls, all on the auth its route chose for the run. */
  run(calls?: number): Promise<JobRun>;
  /** Every run so far. */
  runs: JobRun[];
}

/** The job of `pipeline`, reading its key as it would from a secret store and acting for Vertex as the route's account. */
export async function scheduledJob(bench: MigrationBench, pipeline: string, options: { calls: number; model?: string }): Promise<ScheduledJob> {
  const [{ keyString }] = await bench.cloud.clients.apiKeys.getKeyString({ name: `projects/demo-project/locations/global/keys/${pipeline}` });
  // Beside keyless, the job acts as the route's account by impersonation, as the demo's jobs do.
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: bench.cloud.emulator.mintAccessToken(DEMO_ORCHESTRATOR, 12 * 3600) });
  let lastMode: AuthMode = 'api-key';
  const client = createGeminiClient({
    pipeline,
    project: 'demo-project',
    route: { store: `file://${bench.routesDir}` },
    apiKey: async () => keyString!,
    vertexAuth: 'impersonate',
    authClient,
    // Every run reads the route afresh: a run an hour of workflow time later must see the new step.
    ttlMs: 0,
    env: { KEYLESS_EMULATOR: bench.cloud.emulator.baseUrl },
    onCall: (call) => (lastMode = call.authMode),
  });
  const runs: JobRun[] = [];
  let n = 0;
  return {
    runs,
    async run(calls = options.calls) {
      const run = client.run(`${pipeline}-run-${++n}`);
      const statuses: number[] = [];
      for (let i = 0; i < calls; i++) {
        statuses.push(
          await run.models.generateContent({ model: options.model ?? 'gemini-2.5-flash', contents: `run ${n}, item ${i}` }).then(
            () => 200,
            (err: { status?: number }) => err.status ?? 0,
          ),
        );
      }
      const done = { authMode: lastMode, statuses };
      runs.push(done);
      return done;
    },
  };
}
