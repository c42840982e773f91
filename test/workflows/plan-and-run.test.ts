// `keyless plan` and the workflow share one set of per-stage plan functions: given the same spec
// and cloud, what the plan lists is what a run records, change for change, in the same order.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromCloud } from '../../client/commands/plan';
import { isChange } from '../../contracts/plan';
import { validateSpec } from '../../contracts/spec';
import type { MigrationResult } from '../../contracts/status';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { approveBoth, startMigrationBench, type MigrationBench } from '../support/migration-env';

let bench: MigrationBench;

beforeAll(async () => {
  bench = await startMigrationBench(['plan-run', 'plan-run-ip', 'plan-run-gh']);
});

afterAll(async () => {
  await bench?.stop();
});

/** The forward changes a run recorded (rollback's own records excluded), as plan steps name them. */
function recorded(result: MigrationResult): string[] {
  return result.mutations.map((m) => `${m.kind} ${m.target}`);
}

describe('given a spec, when it is planned and then run', () => {
  it.each([
    { pipeline: 'plan-run', finalize: { action: 'restrict' as const } },
    { pipeline: 'plan-run-ip', finalize: { action: 'restrict-ip' as const, allowedIps: ['203.0.113.7'] }, canary: { steps: [{ percent: 25, bake: '30m' }, { percent: 100, bake: '30m' }] } },
    { pipeline: 'plan-run-gh', runtime: { kind: 'github-actions' as const, repository: 'acme/nightly-jobs', repositoryId: '812345678', pool: 'plan-run' } },
  ])('then the run records exactly the changes the plan listed for $pipeline', async ({ pipeline, ...overrides }) => {
    const input = bench.spec(pipeline, overrides);
    const parsed = validateSpec(input);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const planned = (await planFromCloud(bench.cloud.clients, parsed.spec, { orchestratorEmail: DEMO_ORCHESTRATOR })).filter((s) => isChange(s) && !s.alreadyDone);

    const result = await bench.withWorker(async (taskQueue) => {
      const handle = await bench.start(input, taskQueue);
      await approveBoth(bench, handle);
      return (await handle.result()) as MigrationResult;
    });

    expect(result.outcome).toBe('completed');
    expect(planned.length).toBeGreaterThanOrEqual(6);
    if (overrides.runtime) expect(planned.filter((s) => s.stage === 'identity').map((s) => s.mutation)).toEqual(['workload-identity-pool-created', 'workload-identity-provider-created', 'workload-identity-user-granted']);
    expect(recorded(result)).toEqual(planned.map((s) => `${s.mutation} ${s.target}`));
    // The records use the plan's own words for what each change does.
    const finalizeStep = planned.at(-1)!;
    expect(result.mutations.at(-1)!.detail).toBe(finalizeStep.detail);
    expect(result.mutations.filter((m) => m.kind === 'route-published').map((m) => m.detail.replace(/^generation \d+: /, ''))).toEqual(
      planned.filter((s) => s.mutation === 'route-published').map((s) => s.detail),
    );
  });
});
