// Approve finalize: an operator approves (or rejects) restricting or deleting the key. A rejected
// finalize keeps the pipeline on Vertex and the key as it is: nothing to undo, the migration ends.

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import type { Stage } from '../../contracts/stages';
import type { Migration } from '../migration';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  if (!spec.approvals.finalize) return [];
  return [{ stage: 'approve-finalize', mutation: 'note', target: spec.pipeline, detail: 'waits for approve(stage: finalize); a rejection keeps the key as it is and the pipeline on Vertex' }];
}

export async function run(m: Migration): Promise<Stage | void> {
  if (!m.spec.approvals.finalize) return;
  const receipt = await m.awaitApproval('finalize');
  if (receipt.decision === 'rejected') return 'completed';
}
