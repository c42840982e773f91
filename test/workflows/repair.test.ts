// When Google already refuses every standard key, the pipeline is down: the migration is its
// repair. The dual-run has no baseline and validates Vertex alone, the canary bakes shorter, and
// the status says plainly that this is a repair.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, statusQuery } from '../../contracts/messages';
import type { MigrationResult } from '../../contracts/status';
import { startMigrationBench, waitFor, type MigrationBench } from '../support/migration-env';
import { waitsForApproval } from '../../contracts/waits';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['wf-down'], { bothRetirementsPast: true });
});

afterAll(async () => {
  await bench?.stop();
});

describe('given a key Google already rejects', () => {
  it('when the migration runs, then it repairs the pipeline: Vertex validated alone, canary shortened, completed', async () => {
    const spec = bench.spec('wf-down', {
      dualRun: { prompts: [{ text: 'Summarise the printer incident', expectContains: ['printer'] }] },
      canary: { steps: [{ percent: 50, bake: '4h' }, { percent: 100, bake: '4h' }], repairBakeFactor: 0.25 },
      approvals: { finalize: false },
    });
    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(spec, taskQueue);
      const waiting = await waitFor(() => handle.query(statusQuery), (s) => waitsForApproval(s.wait, 'cutover'), 'cutover approval');
      expect(waiting.repair).toBe(true);
      expect(waiting.next).toMatch(/^repair \(the key is already rejected\): waiting for approve\(stage: cutover\)/);
      await handle.executeUpdate(approveUpdate, { args: [{ stage: 'cutover', by: 'oncall@example.com' }] });
      return (await handle.result()) as MigrationResult;
    });
    expect(result.outcome).toBe('completed');
    expect(result.repair).toBe(true);
    expect((result.dualRun as { mode: string; passed: boolean })).toMatchObject({ mode: 'repair', passed: true });
    // Each 4h bake was cut to 1h: the routes of the two steps were published one hour apart.
    const published = result.mutations.filter((m) => m.kind === 'route-published').map((m) => Date.parse(m.at));
    expect(published).toHaveLength(2);
    expect(published[1]! - published[0]!).toBeGreaterThanOrEqual(3_600_000);
    expect(published[1]! - published[0]!).toBeLessThan(2 * 3_600_000);
  });
});
