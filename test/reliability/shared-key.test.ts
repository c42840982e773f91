// Two pipelines on one key: neither may finalize the key while the other still depends on it, and
// once both are on Vertex the key is finalized without one migration tripping over the other's change.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { maybeRecordHistory, startMigrationBench, type MigrationBench } from '../support/migration-env';
import { recordScenario } from '../support/scenarios';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench([], { sharedKeys: { 'shared-key': ['shared-a', 'shared-b'] } });
});

afterAll(async () => {
  await bench?.stop();
});

describe('given two pipelines sharing one key', () => {
  it('when only one migrates, it holds before finalize; when the other reaches Vertex too, both complete', async () => {
    const specFor = (pipeline: string) =>
      bench.spec(pipeline, {
        apiKey: 'projects/demo-project/locations/global/keys/shared-key',
        approvals: { cutover: false, finalize: false },
        canary: { steps: [{ percent: 100, bake: '1m' }] },
        soak: { duration: '10m' },
      });
    const results = await bench.withWorker(async (taskQueue) => {
      const a = await bench.start(specFor('shared-a'), taskQueue);
      const held = await bench.waitSkipping(() => a.query(statusQuery), (s) => s.wait?.kind === 'sharing-pipelines' && s.wait.pipelines.includes('shared-b'), 'hold for shared-b', '5m');
      expect(held.stage).toBe('held');
      expect(held.mutations.some((m) => m.detail.startsWith('finalize'))).toBe(false);
      const b = await bench.start(specFor('shared-b'), taskQueue);
      const both = (await Promise.all([a.result(), b.result()])) as MigrationResult[];
      await maybeRecordHistory('shared-key-migration', await a.fetchHistory());
      return both;
    });
    expect(results.map((r) => r.outcome)).toEqual(['completed', 'completed']);
    const [key] = await bench.cloud.clients.apiKeys.getKey({ name: 'projects/demo-project/locations/global/keys/shared-key' });
    expect(key.restrictions?.apiTargets?.map((t) => t.service)).toEqual(['generativelanguage.googleapis.com']);
    recordScenario({ scenario: 'two pipelines sharing one key', runs: 2, outcome: 'the first held before finalize until the second was at 100 % on Vertex; then both completed, the key left restricted to the Generative Language API' });
  });
});
