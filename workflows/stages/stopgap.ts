// Stopgap: a block candidate (no application restriction, all APIs) is already refused by Google:
// restrict it to the Generative Language API so the pipeline runs again while the migration
// proceeds. One live call then tells whether the key works at all; if not, every standard key is
// refused and the migration is the pipeline's repair.

import { log } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { GEMINI_API_SERVICE } from '../../contracts/roles';
import type { PipelineSpec } from '../../contracts/spec';
import { mutations, reads } from '../activities';
import type { Migration } from '../migration';
import { keyUndo } from './key-undo';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  if (!facts.key?.blockCandidate) return [];
  if (!spec.stopgap) {
    return [{ stage: 'stopgap', mutation: 'warning', target: spec.apiKey, detail: 'block candidate and stopgap: false: the key stays refused by Google during the migration' }];
  }
  return [{ stage: 'stopgap', mutation: 'key-restricted', target: spec.apiKey, detail: `stopgap: API targets set to ${GEMINI_API_SERVICE}`, when: 'at once: the key is a block candidate' }];
}

export async function run(m: Migration): Promise<void> {
  const [restrict] = plan(m.spec, { key: { blockCandidate: m.facts.blockCandidate ?? false, deleted: false, sharedWith: [] } }).filter((s) => s.mutation === 'key-restricted');
  if (restrict) {
    const restricted = await mutations.restrictKeyToGemini({ apiKey: m.spec.apiKey, expectedEtag: m.facts.keyEtag! });
    m.facts.keyEtag = restricted.etagAfter;
    if (restricted.changed) m.recordMutation({ kind: 'key-restricted', target: restrict.target, detail: restrict.detail }, keyUndo(m));
  }
  const check = await reads.checkKeyWorks({ apiKey: m.spec.apiKey, model: m.spec.vertex.models[0]! });
  if (!check.ok) {
    m.repair = true;
    log.warn('the key is rejected even when restricted: this migration repairs a pipeline that is down', { httpStatus: check.httpStatus, reason: check.reason });
  }
}
