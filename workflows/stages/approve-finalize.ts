// Approve finalize: an operator approves (or rejects) restricting or deleting the key, while the
// migration keeps watching Vertex (a breach rolls back before anyone approves). A rejected
// finalize keeps the pipeline on Vertex and the key as it is: nothing to undo, the migration ends.

import { patched } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import type { Stage } from '../../contracts/stages';
import type { Migration } from '../migration';
import { WATCH_GATES } from '../patches';
import { openWatch, watchGate } from './watch';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  if (!spec.approvals.finalize) return [];
  return [
    {
      stage: 'approve-finalize',
      mutation: 'note',
      target: spec.pipeline,
      detail: `waits for approve(stage: finalize), judging Vertex every ${spec.canary.analysisInterval} (a breach rolls back); a rejection keeps the key as it is and the pipeline on Vertex`,
    },
  ];
}

export async function run(m: Migration): Promise<Stage | void> {
  if (!m.spec.approvals.finalize) return;
  const watching = patched(WATCH_GATES);
  if (watching) await openWatch(m);
  const watch = watching ? { intervalMs: durationMs(m.spec.canary.analysisInterval), look: () => watchGate(m, 'approve-finalize') } : undefined;
  const receipt = await m.awaitApproval('finalize', watch);
  if (receipt.decision === 'rejected') return 'completed';
}
