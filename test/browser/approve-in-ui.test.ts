// The cutover approved in the real Temporal UI (the one the pinned dev server serves), driven in
// headless Chromium: the operator finds the migration by its search attributes, reads what it
// waits for, and sends the `approve` update through the UI's own workflow actions: typed (verify
// none, recorded unverified), and pasted from `keyless approve --print-payload` (verified).

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigration } from '../../client/commands/migrate';
import { migrationStatus } from '../../client/migrations';
import { validateSpec, type PipelineSpec } from '../../contracts/spec';
import type { MigrationStatus } from '../../contracts/status';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { frameShowing, listWorkflowsInUi, openWorkflowFromList, sendUpdateInUi, startTestBrowser, waitForUi, type TestBrowser } from '../support/browser';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { recordScenario } from '../support/scenarios';
import { withKeylessWorker } from '../support/temporal';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/keyless', import.meta.url));

/** Screenshots of each run; docs/images/ holds a copy of approve-cutover.png for the guide. */
const ARTIFACTS = resolve('test/artifacts/browser');

let server: DevServer;
let uiUrl: string;
let cloud: TestCloud;
let connection: Connection;
let client: Client;
let browser: TestBrowser;
let routesDir: string;

beforeAll(async () => {
  server = await startDevServer({ headless: false });
  uiUrl = server.uiUrl!;
  await waitForUi(uiUrl);
  cloud = await startTestCloud();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  routesDir = await mkdtemp(join(tmpdir(), 'keyless-ui-routes-'));
  browser = await startTestBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.stop();
  await connection?.close();
  await server?.stop();
  await cloud?.stop();
});

function nightlySummarizer(pipeline = 'nightly-summarizer', approvals: Record<string, unknown> = {}): PipelineSpec {
  const result = validateSpec({
    pipeline,
    project: 'demo-project',
    apiKey: `projects/demo-project/locations/global/keys/${pipeline}`,
    serviceAccount: { accountId: pipeline },
    vertex: { models: ['gemini-2.5-flash'] },
    // A long first bake keeps the migration in the canary while the test looks at it.
    canary: { steps: [{ percent: 25, bake: '10m' }, { percent: 100, bake: '1s' }], analysisInterval: '1s', minRequests: 0 },
    soak: { duration: '1s', minVertexRequests: 0 },
    approvals: { finalize: false, ...approvals },
    route: { store: `file://${routesDir}` },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.spec;
}

async function statusUntil(spec: PipelineSpec, done: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> {
  for (let i = 0; i < 300; i++) {
    const status = await migrationStatus(client, { pipeline: spec.pipeline, project: spec.project }).catch(() => undefined);
    if (status && done(status)) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached`);
}

/** Opens the workflows list filtered by a visibility query; returns how many rows it shows. */
function listWorkflows(query: string): Promise<number> {
  return listWorkflowsInUi(browser.page, uiUrl, query);
}

/** Runs a keyless worker on a task queue of its own, starts `spec`, waits for its cutover approval, then runs `body`. */
async function atCutover(spec: PipelineSpec, label: string, body: (workflowId: string) => Promise<void>): Promise<void> {
  await withKeylessWorker(server.address, { clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR }, label, async (taskQueue) => {
    const { workflowId } = await startMigration(client, taskQueue, spec);
    await statusUntil(spec, (s) => s.stage === 'approve-cutover', 'approve-cutover');
    await body(workflowId);
  });
}

describe('given a migration waiting for its cutover, with the Temporal UI in a browser', () => {
  it('when the operator approves it in the UI, then the migration moves to the canary', { timeout: 180_000 }, async () => {
    const spec = nightlySummarizer();
    await atCutover(spec, 'ui', async (workflowId) => {
      const { page } = browser;

      // The search attribute filters the fleet: nothing is in the canary yet, one waits for cutover.
      expect(await listWorkflows('KeylessStage="canary"')).toBe(0);
      await openWorkflowFromList(page, uiUrl, 'KeylessStage="approve-cutover" AND KeylessPipeline="nightly-summarizer"', workflowId);
      expect(await page.getByTestId('execution-status').first().innerText()).toMatch(/running/i);

      // Current details: what the migration waits for, published by the workflow itself.
      await page.getByTestId('user-metadata-tab').click();
      const details = await frameShowing(page, 'waiting for approve(stage: cutover)');
      expect(details).toBe('nightly-summarizer: waiting for approve(stage: cutover)');
      await page.screenshot({ path: join(ARTIFACTS, 'waiting-for-cutover.png') });

      // The update's description comes from contracts/messages: the UI lists the workflow's own handlers.
      await sendUpdateInUi(page, {
        description: 'Approve the stage that waits for an operator',
        input: { stage: 'cutover', by: 'ui@example.com' },
        screenshot: join(ARTIFACTS, 'approve-cutover.png'),
    });
    const status = await statusUntil(spec, (s) => s.stage !== 'approve-cutover', 'a stage after approve-cutover');
    expect(status.stage).toBe('canary');
    // The UI's dialog sends no identity: with approvals.verify none, the typed name is recorded as unverified.
    expect(status.approvals?.verify).toBe('none');
    expect(status.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'approve', stage: 'cutover', by: 'ui@example.com', verified: false })]));
    await client.workflow.getHandle(workflowId).terminate('browser test done');
    });
  });

  it('when verified approvals are on and the operator pastes `keyless approve --print-payload` into the dialog, then the approval is accepted as the token\'s email', { timeout: 180_000 }, async () => {
    // ticket-triage's key, served here in global: a pipeline of its own, whose only approver is the demo operator.
    const spec = nightlySummarizer('ticket-triage', { approvers: ['operator@example.com'] });
    await atCutover(spec, 'ui-verified', async (workflowId) => {
      const { page } = browser;
      // The operator's own shell: keyless prints the payload with their ID token (the emulator's demo operator here).
      const env: NodeJS.ProcessEnv = { ...process.env, KEYLESS_EMULATOR: cloud.emulator.baseUrl, TEMPORAL_ADDRESS: server.address };
      delete env.GCE_METADATA_HOST;
      const { stdout } = await run(bin, ['approve', spec.pipeline, '--stage', 'cutover', '--project', spec.project, '--print-payload'], { env, timeout: 120_000 });
      const payload = JSON.parse(stdout) as { stage: string; idToken: string };
      expect(Object.keys(payload).sort()).toEqual(['idToken', 'stage']);

      await openWorkflowFromList(page, uiUrl, 'KeylessStage="approve-cutover" AND KeylessPipeline="ticket-triage"', workflowId);
      await sendUpdateInUi(page, { description: 'Approve the stage that waits for an operator', input: payload, screenshot: join(ARTIFACTS, 'approve-cutover-verified.png') });
      const status = await statusUntil(spec, (s) => s.stage !== 'approve-cutover', 'a stage after approve-cutover');
      expect(status.stage).toBe('canary');
      expect(status.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'approve', stage: 'cutover', by: 'operator@example.com', verified: true })]));
      await client.workflow.getHandle(workflowId).terminate('browser test done');
      recordScenario({ scenario: 'verified approval pasted into the Temporal UI', runs: 1, outcome: 'the --print-payload JSON sent through the UI\'s update dialog approved the cutover as operator@example.com (verified)' });
    });
  });
});
