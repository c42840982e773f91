// Probe: one live generateContent per model as the service account, in the configured location; a
// 403 right after the grant is retried through IAM propagation.

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { serviceAccountEmail } from '../../contracts/roles';
import type { PipelineSpec } from '../../contracts/spec';
import { probes } from '../activities';
import type { Migration } from '../migration';

export function plan(spec: PipelineSpec, _facts: PlanFacts): PlannedStep[] {
  const email = serviceAccountEmail(spec.serviceAccount.accountId, spec.project);
  return [{ stage: 'probe', mutation: 'note', target: `${spec.project}/${spec.vertex.location}`, detail: `models ${spec.vertex.models.join(', ')}: one live call each as ${email}` }];
}

export async function run(m: Migration): Promise<void> {
  m.facts.probe = await probes.probeVertex({
    project: m.spec.project,
    location: m.spec.vertex.location,
    models: m.spec.vertex.models,
    serviceAccountEmail: m.serviceAccountEmail,
    roleGrantedAt: m.facts.roleGrantedAt,
  });
}
