// The production topology, on one machine: a fleet of 30 migrations on the Temporal server (built
// from source) over PostgreSQL, with three `keyless worker` processes sharing the task queue, each
// serving Prometheus metrics. One worker is SIGKILLed in the middle of the second wave: the fleet
// must complete on the other two, every worker must have done part of the work, and the emulator's
// audit log must show each change exactly once.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FleetSpecSchema, fleetStatusQuery, fleetWorkflowId, type FleetStatus } from '../../contracts/fleet';
import { migrationWorkflowId } from '../../contracts/names';
import type { PipelineSpecInput } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import { startFleet } from '../../client/fleets';
import type { FleetResult } from '../../workflows/migrate-fleet';
import { CLUSTER_PROJECT, CLUSTER_VERSIONS, clusterSpec, identitiesOf, startKeylessCluster, type KeylessCluster } from '../support/cluster';
import { auditLog, mutationsOf } from '../support/reliability-bench';
import { pollUntil } from '../support/reliability';
import { recordScenario } from '../support/scenarios';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FLEET = 'cluster-fleet';
const SIZE = 30;
const WAVE = 10;
const pipelines = Array.from({ length: SIZE }, (_, i) => `cl-fleet-${String(i).padStart(2, '0')}`);

let cluster: KeylessCluster;
/** What the three workers' metrics endpoints served while the first wave ran. */
const scraped: { worker: number; status: number; body: string }[] = [];
let finished: { fleet: FleetResult; children: MigrationResult[]; killedIdentity: string; killedAt: number } | undefined;

beforeAll(async () => {
  cluster = await startKeylessCluster({ label: 'fleet', pipelines, workers: 3, metrics: true });
}, 300_000);

let failed = false;
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    failed = true;
  });
});

afterAll(async () => {
  // After a failure the logs of every process stay for reading (the path is printed).
  await cluster?.stop({ keepLogs: failed });
}, 120_000);

function fleetSpec(routesDir: string) {
  const members: PipelineSpecInput[] = pipelines.map((pipeline) => clusterSpec(pipeline, routesDir));
  return FleetSpecSchema.parse({ fleet: FLEET, waveSize: WAVE, concurrency: WAVE, pipelines: members });
}

async function scrape(address: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

describe('given a fleet of 30 on three keyless workers, a Temporal server and PostgreSQL', () => {
  it('when one worker is SIGKILLed mid-wave, then the fleet completes on the other two and each worker ran part of it', async () => {
    const handle = cluster.client.workflow.getHandle(fleetWorkflowId(FLEET));
    const began = Date.now();
    await startFleet(cluster.client, cluster.taskQueue, fleetSpec(`${cluster.dir}/routes`));
    const status = () => handle.query(fleetStatusQuery);

    const victim = cluster.workers[1]!;
    const midWave = (s: FleetStatus) => s.wave === 2 && s.counts.running >= WAVE / 2;
    const reached = await pollUntil(status, (s) => midWave(s) || s.wave > 2 || s.halted !== undefined, 'the second wave running', 240_000, 200);
    // A halted fleet names why its members rolled back: that, not a timeout, is what to read.
    expect(reached.halted, JSON.stringify(reached.members.filter((m) => m.reason).slice(0, 3))).toBeUndefined();
    // Every worker's endpoint is read once while migrations run (the metrics scenario below).
    for (const worker of cluster.workers) scraped.push({ worker: worker.index, ...(await scrape(worker.metricsAddress!)) });
    expect(midWave(await status())).toBe(true);
    await victim.service.stop('SIGKILL');
    const killedAt = Date.now();
    expect(victim.service.running()).toBe(false);

    const fleet = (await handle.result()) as FleetResult;
    const wallS = (Date.now() - began) / 1000;
    expect(fleet.counts.completed).toBe(SIZE);
    expect(fleet.members.every((m) => m.state === 'completed')).toBe(true);
    const children = await Promise.all(pipelines.map((p) => cluster.client.workflow.getHandle(migrationWorkflowId(CLUSTER_PROJECT, p)).result() as Promise<MigrationResult>));
    expect(children.map((c) => c.outcome)).toEqual(pipelines.map(() => 'completed'));

    // Who did what, as the server recorded it: the identity on every workflow task and activity.
    const work = await Promise.all(pipelines.map(async (p) => identitiesOf(await cluster.client.workflow.getHandle(migrationWorkflowId(CLUSTER_PROJECT, p)).fetchHistory())));
    const perWorker = cluster.workers.map((w) => ({
      worker: w.index + 1,
      tasks: work.reduce((n, events) => n + events.filter((e) => e.identity === w.identity).length, 0),
      migrations: work.filter((events) => events.some((e) => e.identity === w.identity)).length,
      afterKill: work.reduce((n, events) => n + events.filter((e) => e.identity === w.identity && e.at > killedAt + 1_000).length, 0),
    }));
    for (const w of perWorker) expect(w.tasks, `worker ${w.worker}`).toBeGreaterThan(0);
    // Only the other two answered once it was dead (a second's grace for events recorded in flight).
    expect(perWorker[1]!.afterKill).toBe(0);
    expect(perWorker[0]!.afterKill + perWorker[2]!.afterKill).toBeGreaterThan(0);
    const unknown = work.flat().filter((e) => !cluster.workers.some((w) => w.identity === e.identity));
    expect(unknown).toEqual([]);

    finished = { fleet, children, killedIdentity: victim.identity, killedAt };
    const spread = perWorker.map((w) => `worker ${w.worker}: ${w.tasks} tasks in ${w.migrations} migrations`).join('; ');
    console.log(`cluster fleet: ${SIZE} completed in ${wallS.toFixed(0)} s; ${spread}; worker 2 SIGKILLed in wave 2, the fleet ended ${((Date.now() - killedAt) / 1000).toFixed(0)} s later`);
    recordScenario({
      scenario: `cluster: fleet of ${SIZE} over 3 keyless workers (Temporal ${CLUSTER_VERSIONS.temporalServer}, PostgreSQL ${CLUSTER_VERSIONS.postgresMajor})`,
      runs: SIZE,
      outcome: `${fleet.counts.completed}/${SIZE} completed in ${wallS.toFixed(0)} s; ${spread}`,
    });
    recordScenario({
      scenario: 'cluster: one of 3 workers SIGKILLed mid-wave',
      runs: 1,
      outcome: `fleet completed ${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill; no task went to the dead worker afterwards`,
    });
  }, 600_000);

  it('then the audit log shows each change of the 30 migrations exactly once', async () => {
    expect(finished).toBeDefined();
    const audit = await auditLog(cluster.emulatorUrl);
    let keyPatches = 0;
    for (const result of finished!.children) {
      const account = result.mutations.find((m) => m.kind === 'account-created');
      expect(account, result.pipeline).toBeDefined();
      const changes = mutationsOf(audit, result.pipeline, account!.target);
      // Stopgap and finalize, once each; the orchestrator's token-creator grant on the account and
      // its removal after the dual-run, once each.
      expect(changes.keyPatches, result.pipeline).toHaveLength(2);
      expect(changes.accountPolicySets, result.pipeline).toHaveLength(2);
      expect(result.mutations.filter((m) => m.kind === 'role-granted'), result.pipeline).toHaveLength(1);
      keyPatches += changes.keyPatches.length;
    }
    // The create request names the project only: creates and bindings are counted for the fleet.
    const all = mutationsOf(audit, '', '');
    expect(all.accountCreates).toHaveLength(SIZE);
    expect(all.projectPolicySets).toHaveLength(SIZE);
    recordScenario({
      scenario: 'cluster: audit after the mid-wave SIGKILL',
      runs: SIZE,
      outcome: `${all.accountCreates.length} accounts created, ${all.projectPolicySets.length} project bindings, ${keyPatches} key PATCHes (2 per pipeline): each change once`,
    });
  });

  it("then every worker served the Temporal SDK's Prometheus families and keyless's own on KEYLESS_METRICS_ADDRESS during the fleet", () => {
    expect(scraped).toHaveLength(3);
    const familiesOf = (body: string) => new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const { worker, status, body } of scraped) {
      expect(status, `worker ${worker + 1}`).toBe(200);
      // Families the SDK's runtime exports once a worker has polled and run tasks (durations in seconds).
      expect([...familiesOf(body)], `worker ${worker + 1}`).toEqual(
        expect.arrayContaining(['temporal_workflow_task_execution_latency', 'temporal_workflow_task_schedule_to_start_latency', 'temporal_activity_execution_latency', 'temporal_request']),
      );
      expect(body, `worker ${worker + 1}`).toMatch(/^temporal_activity_execution_latency_bucket\{.*task_queue="keyless"/m);
    }
    // keyless's own families, emitted from workflow code: some worker ran each kind of task by now.
    const all = scraped.map((s) => s.body).join('\n');
    expect(all).toMatch(/^keyless_migration_stages(_total)?\{[^}]*stage="provision"[^}]*\} [1-9]/m);
    expect(all).toMatch(/^keyless_mutations(_total)?\{[^}]*kind="account-created"[^}]*\} [1-9]/m);
    // The first wave's canaries were judged (no pipeline runs here: too few requests, minRequests 0).
    expect(all).toMatch(/^keyless_canary_verdicts(_total)?\{[^}]*verdict="[a-z-]+"[^}]*\} [1-9]/m);
    const families = new Set(scraped.flatMap((s) => [...familiesOf(s.body)]));
    console.log(`worker metrics families: ${[...families].sort().join(', ')}`);
    recordScenario({
      scenario: 'cluster: worker metrics (KEYLESS_METRICS_ADDRESS) read mid-fleet',
      runs: scraped.length,
      outcome: `3/3 endpoints answered; ${[...families].filter((f) => f.startsWith('temporal_')).length} temporal_* families (workflow-task and activity latencies among them) and keyless's own (${[...families].filter((f) => f.startsWith('keyless_')).sort().join(', ')})`,
    });
  });

  it('then a fourth worker told to serve metrics on a port a worker already serves stops at start, naming KEYLESS_METRICS_ADDRESS', async () => {
    const taken = cluster.workers[0]!.metricsAddress!;
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: cluster.address, KEYLESS_METRICS_ADDRESS: taken };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(join(repoRoot, 'bin/keyless'), ['worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, stderr: err });
      });
    });
    // Exit code 3 is "bad configuration"; the message names the setting and what to do.
    expect(code).toBe(3);
    expect(stderr).toContain(`KEYLESS_METRICS_ADDRESS: cannot serve metrics on ${taken}`);
    expect(stderr).toContain('pick a free port');
    expect(stderr).not.toContain('    at ');
  });
});
