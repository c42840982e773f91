// Finalize: restrict the key to the Generative Language API (A), to fixed egress IPs (B), or
// delete it (C; undeletable for 30 days); then keep the migration open for the rollback window.

import { condition } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { GEMINI_API_SERVICE } from '../../contracts/roles';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import { mutations } from '../activities';
import type { Migration } from '../migration';
import { keyUndo } from './key-undo';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  const { action, allowedIps } = spec.finalize;
  const when = spec.approvals.finalize ? `after soak ${spec.soak.duration} and the finalize approval` : `after soak ${spec.soak.duration}`;
  const window = durationMs(spec.finalize.rollbackWindow) > 0 ? `; rollback can undo it for ${spec.finalize.rollbackWindow}` : '';
  if (action === 'delete') return [{ stage: 'finalize', mutation: 'key-deleted', target: spec.apiKey, detail: 'soft-deleted; undeletable for 30 days', when: `${when}${window}` }];
  const detail = action === 'restrict' ? `finalize: ${GEMINI_API_SERVICE} only` : `finalize: allowed IPs ${allowedIps!.join(', ')}`;
  return [{ stage: 'finalize', mutation: 'key-restricted', target: spec.apiKey, detail, when: `${when}${window}` }];
}

export async function run(m: Migration): Promise<void> {
  const { action, allowedIps } = m.spec.finalize;
  const [step] = plan(m.spec, {});
  const done = await mutations.finalizeKey({ apiKey: m.spec.apiKey, action, allowedIps, expectedEtag: m.facts.keyEtag! });
  m.facts.keyEtag = done.etagAfter ?? m.facts.keyEtag;
  if (action === 'delete') m.facts.keyDeleted = true;
  m.recordMutation({ kind: step!.mutation as 'key-deleted' | 'key-restricted', target: step!.target, detail: step!.detail, approvedBy: m.approvals.get('finalize')?.by }, keyUndo(m));
  await holdRollbackWindow(m);
}

/** Keeps the migration open after finalize for the spec's rollback window, so a late `rollback` still undoes it. */
async function holdRollbackWindow(m: Migration): Promise<void> {
  const window = durationMs(m.spec.finalize.rollbackWindow);
  if (window <= 0) return;
  m.setWait({ kind: 'rollback-window', until: new Date(Date.now() + window).toISOString() });
  await condition(() => m.rollbackRecord !== undefined, window);
  m.setWait(undefined);
  m.checkpoint();
}
