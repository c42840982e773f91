// Approve cutover: an operator approves (or rejects) moving traffic; a rejection rolls back.

import { ErrorType } from '../../contracts/errors';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import type { Migration } from '../migration';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  if (!spec.approvals.cutover) return [];
  const who = spec.approvals.approvers ? spec.approvals.approvers.join(', ') : 'anyone with access to the namespace';
  return [{ stage: 'approve-cutover', mutation: 'note', target: spec.pipeline, detail: `waits for approve(stage: cutover) from ${who}; no decision within ${spec.approvals.deadline}: ${spec.approvals.onDeadline}` }];
}

export async function run(m: Migration): Promise<void> {
  if (!m.spec.approvals.cutover) return;
  const receipt = await m.awaitApproval('cutover');
  if (receipt.decision === 'rejected') {
    m.requestRollback({ reason: `cutover rejected by ${receipt.by}`, failureType: ErrorType.Rejected, by: receipt.by, at: receipt.at });
    m.checkpoint();
  }
}
