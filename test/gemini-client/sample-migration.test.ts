// Given the ticket-triage sample job running on its interval, when its migration (the example spec)
// fails at the probe because Vertex does not serve its model in europe-west4, then the migration
// rolls back without publishing a route and the job never fails a run.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import type { MigrationResult } from '../../contracts/status';
import type { PipelineSpecInput } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startSamplePipelines, type SampleRun } from '../../examples/pipelines';
import { startMigrationBench, type MigrationBench } from '../support/migration-env';

let bench: MigrationBench;
const savedEnv = { ...process.env };

beforeAll(async () => {
  bench = await startMigrationBench([]);
  // The job reads its key through ADC, here the orchestrator's metadata server, as in the demo.
  Object.assign(process.env, await bench.cloud.emulator.envFor(DEMO_ORCHESTRATOR));
  delete process.env.METADATA_SERVER_DETECTION;
});
afterAll(async () => {
  process.env = savedEnv;
  await bench?.stop();
});

describe('the ticket-triage sample', () => {
  it('given its model is not served on Vertex there, rolls back at the probe while every run of the job succeeds on its key', async () => {
    const spec = parse(await readFile(new URL('../../examples/specs/ticket-triage.yaml', import.meta.url), 'utf8')) as PipelineSpecInput;
    const store = `file://${bench.routesDir}`;
    const runs: SampleRun[] = [];
    const stop = new AbortController();
    const samples = startSamplePipelines({ env: process.env, routesStore: store, stopSignal: stop.signal, intervalMs: 20, maxRuns: 10_000, pipelines: ['ticket-triage'], routeTtlMs: 50, onRun: (r) => runs.push(r) });
    let result: MigrationResult;
    try {
      result = await bench.withWorker(async (taskQueue) => (await (await bench.start({ ...spec, route: { store } }, taskQueue)).result()) as MigrationResult);
    } finally {
      stop.abort();
    }
    const [report] = await samples.done;
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollback?.failureType).toBe('ModelNotServed');
    expect(result.mutations.some((m) => m.kind === 'route-published')).toBe(false);
    expect(report!.runs).toBeGreaterThan(0);
    expect(report).toMatchObject({ pipeline: 'ticket-triage', failedRuns: 0, byAuth: { vertex: 0 } });
    expect(runs.every((r) => r.ok && r.authMode === 'api-key')).toBe(true);
  });
});
