// Dual-run: the sample prompts through both paths (key → Gemini API, account → Vertex), compared;
// a breach of the thresholds rolls back with the report.

import { ErrorType } from '../../contracts/errors';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import { analyses } from '../activities';
import { nowIso, type Migration } from '../migration';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  const calls = spec.vertex.models.length * spec.dualRun.prompts.length * spec.dualRun.samples;
  return [{ stage: 'dual-run', mutation: 'note', target: `${spec.project}/${spec.vertex.location}`, detail: `${calls} dual-run call(s) per path (key and Vertex), compared against the spec's thresholds` }];
}

export async function run(m: Migration): Promise<void> {
  const report = await analyses.dualRun({
    apiKey: m.spec.apiKey,
    project: m.spec.project,
    location: m.spec.vertex.location,
    serviceAccountEmail: m.serviceAccountEmail,
    models: m.spec.vertex.models,
    prompts: m.spec.dualRun.prompts,
    samples: m.spec.dualRun.samples,
    thresholds: m.spec.dualRun.thresholds,
  });
  m.facts.dualRun = report;
  if (!report.passed) {
    m.requestRollback({ reason: `dual-run breached its thresholds: ${report.breaches.join('; ')}`, failureType: ErrorType.DualRunBreach, at: nowIso() });
    m.checkpoint();
  }
}
