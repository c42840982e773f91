// The demo's GitHub Actions job, on its own: the nightly-summarizer sample as a child process with
// only a CI job's environment (a runner registered in the emulator, the configuration `keyless
// credentials` printed, its key as a secret), following a route that sends every run to Vertex.
// Its calls reach Vertex as the pipeline account through STS and impersonation: Monitoring counts
// them under the account, and no metadata server or orchestrator credential is in its environment.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeLocation } from '../../contracts/route';
import { DEMO_PROJECT } from '../../emulator';
import { startSamplePipelines } from '../../examples/pipelines';
import { fileRouteStore } from '../../route-store';
import { ACCOUNTS, REPOSITORY, email, keyless, startFederationEstate, vertexCallsOf, type FederationEstate } from '../support/federation';

let estate: FederationEstate;

beforeAll(async () => {
  estate = await startFederationEstate([{ spec: 'github', bind: true }]);
});
afterAll(async () => {
  await estate?.stop();
});

describe('given a sample job on a simulated GitHub Actions runner', () => {
  it('when the route sends its runs to Vertex, then it calls Vertex as the pipeline account with the printed configuration alone', async () => {
    const routes = `file://${join(estate.dir, 'routes')}`;
    await fileRouteStore.write(routeLocation(routes, 'nightly-summarizer'), {
      pipeline: 'nightly-summarizer',
      generation: 1,
      vertexPercent: 100,
      project: DEMO_PROJECT,
      location: 'us-central1',
      serviceAccount: email(ACCOUNTS.github.accountId),
      updatedAt: new Date().toISOString(),
    });
    const runner = estate.cloud.emulator.registerGithubRunner(REPOSITORY);
    const runnerEnv = { ACTIONS_ID_TOKEN_REQUEST_URL: runner.ACTIONS_ID_TOKEN_REQUEST_URL!, ACTIONS_ID_TOKEN_REQUEST_TOKEN: runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN! };
    const printed = await keyless(['credentials', 'nightly-summarizer', '--spec', estate.specPaths.github], { ...estate.orchestratorEnv, ...runnerEnv });
    expect(printed.code, printed.err).toBe(0);
    const credentialsFile = join(estate.dir, 'ci-credentials.json');
    await writeFile(credentialsFile, printed.out);
    const [key] = await estate.cloud.clients.apiKeys.getKeyString({ name: `projects/${DEMO_PROJECT}/locations/global/keys/nightly-summarizer` });
    // As the printed GitHub snippet hands it on: in emulator mode the client loads KEYLESS_CREDENTIAL_CONFIG alone, never ADC's search.
    const jobEnv = { ...runnerEnv, KEYLESS_EMULATOR: estate.cloud.emulator.baseUrl, GOOGLE_APPLICATION_CREDENTIALS: credentialsFile, KEYLESS_CREDENTIAL_CONFIG: credentialsFile, GOOGLE_CLOUD_PROJECT: DEMO_PROJECT, GEMINI_API_KEY: key.keyString! };
    expect(Object.keys(jobEnv)).not.toContain('GCE_METADATA_HOST');

    const samples = startSamplePipelines({ env: {}, routesStore: routes, stopSignal: new AbortController().signal, intervalMs: 100, maxRuns: 3, pipelines: ['nightly-summarizer'], isolatedJobs: { 'nightly-summarizer': jobEnv } });
    const [report] = await samples.done;
    expect(report).toEqual({ pipeline: 'nightly-summarizer', runs: 3, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 3 } });
    expect(await vertexCallsOf(estate, ACCOUNTS.github.uniqueId)).toEqual({ '200': 3 });
  });
});
