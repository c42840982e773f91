// An operator's migration on the production topology: the Temporal server (built from source) on
// PostgreSQL, three `keyless worker` processes, and the Temporal UI server pointed at the cluster.
// The server is restarted, gracefully and by SIGKILL, while the migration waits for its cutover
// approval and again during a canary bake; in between, the cutover is approved in the UI, in
// headless Chromium. The workers and the UI server are never restarted: they reconnect by themselves.

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMigration } from '../../client/commands/migrate';
import { migrationStatus } from '../../client/migrations';
import { validateSpec, type PipelineSpec } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { frameShowing, openWorkflowFromList, sendUpdateInUi, startTestBrowser, waitForUi, type TestBrowser } from '../support/browser';
import { CLUSTER_PROJECT, CLUSTER_VERSIONS, clusterSpec, identitiesOf, startKeylessCluster, type KeylessCluster } from '../support/cluster';
import { routeGenerations } from '../support/reliability-bench';
import { pollUntil } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const PIPELINE = 'cl-operator';
const ARTIFACTS = resolve('test/artifacts/browser');
const STEPS = [
  { percent: 50, bake: '20s' },
  { percent: 100, bake: '1s' },
];

let cluster: KeylessCluster;
let browser: TestBrowser;
let handle: WorkflowHandle;
let spec: PipelineSpec;

beforeAll(async () => {
  cluster = await startKeylessCluster({ label: 'operator', pipelines: [PIPELINE], workers: 3, ui: true });
  await waitForUi(cluster.uiUrl!);
  browser = await startTestBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
}, 300_000);

let failed = false;
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    failed = true;
  });
});

afterAll(async () => {
  await browser?.stop();
  // After a failure the logs of every process stay for reading (the path is printed).
  await cluster?.stop({ keepLogs: failed });
}, 120_000);

const status = () => migrationStatus(cluster.client, { pipeline: PIPELINE, project: CLUSTER_PROJECT });
/** Nothing in a status that a restart could change, for comparing before and after. */
const durable = (s: MigrationStatus) => ({ stage: s.stage, wait: s.wait, vertexPercent: s.vertexPercent, decisions: s.decisions, mutations: s.mutations });

describe('given a migration on the cluster, waiting for its cutover approval', () => {
  it('when the Temporal server is stopped (SIGTERM) and killed (SIGKILL) and started again on the same PostgreSQL, then the migration still waits there, with nothing decided for it', async () => {
    const validated = validateSpec(
      clusterSpec(PIPELINE, join(cluster.dir, 'routes'), {
        approvals: { cutover: true, finalize: false },
        // One analysis per bake step: the restarts land on the bake's timer, not on a read.
        canary: { steps: STEPS, analysisInterval: '20s' },
      }),
    );
    if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
    spec = validated.spec;
    const { workflowId } = await startMigration(cluster.client, cluster.taskQueue, spec);
    handle = cluster.client.workflow.getHandle(workflowId);
    const waiting = await pollUntil(status, (s) => s.stage === 'approve-cutover' && s.wait !== undefined, 'the wait for the cutover approval', 120_000, 200);

    const restarts: string[] = [];
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const before = cluster.serverPid();
      const { downS } = await cluster.restartServer(signal);
      expect(cluster.serverPid()).not.toBe(before);
      // Answered by a worker that survived the outage: the query goes through the new server.
      const resumed = await pollUntil(status, () => true, `a status after the ${signal} restart`, 60_000, 200);
      expect(durable(resumed)).toEqual(durable(waiting));
      expect(resumed.decisions).toEqual([]);
      restarts.push(`${signal} ${downS.toFixed(1)} s`);
    }
    recordScenario({
      scenario: `cluster: Temporal server ${CLUSTER_VERSIONS.temporalServer} restarted during the approval wait`,
      runs: restarts.length,
      outcome: `still waiting for approve(stage: cutover), nothing decided, after ${restarts.join(' and ')} restarts; workers kept running`,
    });
  }, 240_000);

  it('when the operator approves in the Temporal UI served against the cluster, then the migration takes the approval and moves to the canary', async () => {
    expect(handle).toBeDefined();
    const { page } = browser;
    const uiUrl = cluster.uiUrl!;
    await openWorkflowFromList(page, uiUrl, `KeylessStage="approve-cutover" AND KeylessPipeline="${PIPELINE}"`, handle.workflowId);
    await page.getByTestId('user-metadata-tab').click();
    expect(await frameShowing(page, 'waiting for approve(stage: cutover)')).toBe(`${PIPELINE}: waiting for approve(stage: cutover)`);
    await sendUpdateInUi(page, {
      description: 'Approve the stage that waits for an operator',
      input: { stage: 'cutover', by: 'ui@example.com' },
      screenshot: join(ARTIFACTS, 'cluster-approve-cutover.png'),
    });
    const moved = await pollUntil(status, (s) => s.stage !== 'approve-cutover', 'a stage after approve-cutover', 60_000, 200);
    expect(moved.stage).toBe('canary');
    expect(moved.decisions).toEqual([expect.objectContaining({ action: 'approve', stage: 'cutover', by: 'ui@example.com' })]);
    // The update went through the UI server to the cluster and was accepted by one of its workers.
    const accepted = (await handle.fetchHistory()).events?.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    expect(accepted?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name).toBe('approve');
    recordScenario({
      scenario: `cluster: cutover approved in the Temporal UI ${CLUSTER_VERSIONS.temporalUi} (ui-server) against the cluster`,
      runs: 1,
      outcome: `"Update successful" in the UI; approve by ui@example.com recorded; stage ${moved.stage}`,
    });
  }, 180_000);

  it('when the server is killed (SIGKILL) and stopped (SIGTERM) during a canary bake, then the bake resumes and the migration completes without repeating a change', async () => {
    expect(handle).toBeDefined();
    const baking = (s: MigrationStatus) => s.stage === 'canary' && s.canary?.step === 1 && s.vertexPercent === STEPS[0]!.percent && s.next.includes('baking until');
    const bakeSeen = await pollUntil(status, (s) => baking(s) || (s.canary?.step ?? 0) > 1 || s.stage !== 'canary', 'the bake of the first canary step', 60_000, 100);
    expect(baking(bakeSeen)).toBe(true);
    const published = bakeSeen.mutations.filter((m) => m.kind === 'route-published');

    const restarts: string[] = [];
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const { downS } = await cluster.restartServer(signal);
      const after = await pollUntil(status, () => true, `a status after the ${signal} restart`, 60_000, 200);
      restarts.push(`${signal} ${downS.toFixed(1)} s`);
      // Still baking the first step (20 s outlasts both restarts), its route written once: the
      // restart neither ended the bake nor re-ran the publish.
      expect(baking(after)).toBe(true);
      expect(after.mutations.filter((m) => m.kind === 'route-published')).toEqual(published);
    }

    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    const generations = routeGenerations(result);
    expect(generations).toHaveLength(STEPS.length);
    expect(new Set(generations).size).toBe(STEPS.length);
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.approvedBy)).toEqual(STEPS.map(() => 'ui@example.com'));
    expect(result.mutations.filter((m) => m.kind === 'key-restricted').map((m) => m.detail.split(':')[0])).toEqual(['stopgap', 'finalize']);
    const workers = new Set(identitiesOf(await handle.fetchHistory()).map((t) => t.identity));
    expect([...workers].every((identity) => cluster.workers.some((w) => w.identity === identity))).toBe(true);
    recordScenario({
      scenario: `cluster: Temporal server ${CLUSTER_VERSIONS.temporalServer} restarted during a canary bake`,
      runs: restarts.length,
      outcome: `${result.outcome} after ${restarts.join(' and ')} restarts within the 20 s bake; ${generations.length} route generations for ${STEPS.length} steps; ${workers.size} of 3 workers took part`,
    });
  }, 240_000);
});
