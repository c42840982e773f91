// The cutover approved in the real Temporal UI (the one the pinned dev server serves), driven in
// headless Chromium: the operator finds the migration by its search attributes, reads what it
// waits for, and sends the `approve` update through the UI's own workflow actions.

import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigration } from '../../client/commands/migrate';
import { migrationStatus } from '../../client/migrations';
import { validateSpec, type PipelineSpec } from '../../contracts/spec';
import type { MigrationStatus } from '../../contracts/status';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startDevServer, type DevServer } from '../../worker/dev-server';
import { createKeylessWorker } from '../../worker/worker';
import { frameShowing, startTestBrowser, waitForUi, type TestBrowser } from '../support/browser';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { uniqueTaskQueue, workflowBundle } from '../support/temporal';

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

function nightlySummarizer(): PipelineSpec {
  const result = validateSpec({
    pipeline: 'nightly-summarizer',
    project: 'demo-project',
    apiKey: 'projects/demo-project/locations/global/keys/nightly-summarizer',
    serviceAccount: { accountId: 'nightly-summarizer' },
    vertex: { models: ['gemini-2.5-flash'] },
    // A long first bake keeps the migration in the canary while the test looks at it.
    canary: { steps: [{ percent: 25, bake: '10m' }, { percent: 100, bake: '1s' }], analysisInterval: '1s' },
    soak: { duration: '1s' },
    approvals: { finalize: false },
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
async function listWorkflows(query: string): Promise<number> {
  const { page } = browser;
  await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
  await page.getByTestId('workflow-count').waitFor({ timeout: 20_000 });
  return page.getByTestId('workflows-summary-configurable-table-row').count();
}

describe('given a migration waiting for its cutover, with the Temporal UI in a browser', () => {
  it('when the operator approves it in the UI, then the migration moves to the canary', { timeout: 180_000 }, async () => {
    const spec = nightlySummarizer();
    const taskQueue = uniqueTaskQueue('ui');
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await createKeylessWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activityDeps: { clients: cloud.clients, orchestratorEmail: DEMO_ORCHESTRATOR },
    });
    const { page } = browser;
    try {
      await worker.runUntil(async () => {
        const { workflowId } = await startMigration(client, taskQueue, spec);
        await statusUntil(spec, (s) => s.stage === 'approve-cutover', 'approve-cutover');

        // The search attribute filters the fleet: nothing is in the canary yet, one waits for cutover.
        expect(await listWorkflows('KeylessStage="canary"')).toBe(0);
        let rows = 0;
        for (let i = 0; i < 20 && rows === 0; i++) rows = await listWorkflows('KeylessStage="approve-cutover" AND KeylessPipeline="nightly-summarizer"');
        expect(rows).toBe(1);
        const row = page.getByTestId('workflows-summary-configurable-table-row').first();
        expect(await row.innerText()).toContain(workflowId);

        await row.getByRole('link', { name: workflowId }).click();
        await page.getByTestId('workflow-id-heading').filter({ hasText: workflowId }).waitFor({ timeout: 20_000 });
        expect(await page.getByTestId('execution-status').first().innerText()).toMatch(/running/i);

        // Current details: what the migration waits for, published by the workflow itself.
        await page.getByTestId('user-metadata-tab').click();
        const details = await frameShowing(page, 'waiting for approve(stage: cutover)');
        expect(details).toBe('nightly-summarizer: waiting for approve(stage: cutover)');
        await page.screenshot({ path: join(ARTIFACTS, 'waiting-for-cutover.png') });

        await page.getByRole('button', { name: 'More Actions' }).click();
        await page.getByTestId('update-button').filter({ visible: true }).first().click();
        const dialog = page.locator('dialog[open]');
        await dialog.getByTestId('update-select-button').click();
        // The update's description comes from contracts/messages: the UI lists the workflow's own handlers.
        await dialog.getByRole('option').filter({ hasText: 'Approve the stage that waits for an operator' }).click();
        await dialog.getByRole('textbox', { name: 'Data' }).click();
        await page.keyboard.insertText(JSON.stringify({ stage: 'cutover', by: 'ui@example.com' }));
        // Leaving the editor reformats the JSON and resizes the dialog; do it before aiming at Submit.
        await dialog.getByTestId('update-id').click();
        await page.screenshot({ path: join(ARTIFACTS, 'approve-cutover.png') });
        await dialog.getByTestId('confirm-modal-button').click();

        await page.getByTestId('toast-live-region-polite').getByText('Update successful').waitFor({ timeout: 20_000 });
        const status = await statusUntil(spec, (s) => s.stage !== 'approve-cutover', 'a stage after approve-cutover');
        expect(status.stage).toBe('canary');
        expect(status.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'approve', stage: 'cutover', by: 'ui@example.com' })]));
        await client.workflow.getHandle(workflowId).terminate('browser test done');
      });
    } finally {
      await nativeConnection.close();
    }
  });
});
