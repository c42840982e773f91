// Inventory: read the key by resource name (never its string), snapshot it for rollback, note who
// else uses it.

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import { reads } from '../activities';
import type { Migration } from '../migration';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const steps: PlannedStep[] = [];
  if (facts.key?.deleted) {
    steps.push({ stage: 'inventory', mutation: 'warning', target: spec.apiKey, detail: `the key is deleted (since ${facts.key.deleteTime ?? 'unknown'}): the stopgap and finalize cannot act on it; undelete it first` });
  }
  if (facts.key?.sharedWith.length) {
    steps.push({
      stage: 'inventory',
      mutation: 'warning',
      target: spec.apiKey,
      detail: `key shared with ${facts.key.sharedWith.join(', ')}: finalize waits until they are at 100% on Vertex, and the stopgap restriction applies to them too`,
    });
  }
  return steps;
}

export async function run(m: Migration): Promise<void> {
  const found = await reads.inspectKey({ apiKey: m.spec.apiKey, pipeline: m.spec.pipeline, project: m.spec.project });
  m.facts.keyUid = found.audit.uid;
  m.facts.keySnapshot = found.snapshot;
  m.facts.keyEtag = found.snapshot.etag;
  m.facts.sharedWith = found.sharedWith;
  m.facts.blockCandidate = found.audit.blockCandidate;
}
