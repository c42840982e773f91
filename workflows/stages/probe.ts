// Probe: one live generateContent per model as the service account, in the configured location; a
// 403 right after the grant is retried through IAM propagation. For a federated runtime it then
// proves the job's own path: the whole chain in the embedded default (a runner token, STS,
// impersonation, Vertex), the configuration against Google (`keyless doctor` proves the rest).

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { isFederated } from '../../contracts/runtime';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import { probes } from '../activities';
import type { Migration } from '../migration';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const email = pipelineAccount(spec).email ?? facts.runtimeAccount?.email ?? 'the runtime\'s account';
  const steps: PlannedStep[] = [{ stage: 'probe', mutation: 'note', target: `${spec.project}/${spec.vertex.location}`, detail: `models ${spec.vertex.models.join(', ')}: one live call each as ${email}` }];
  if (isFederated(spec.runtime)) {
    steps.push({ stage: 'probe', mutation: 'note', target: spec.pipeline, detail: `then the job's own path (${spec.runtime.kind} token → STS → impersonation → Vertex): walked whole in the embedded default; against Google the configuration is read back, and \`keyless doctor\` inside the job proves the rest` });
  }
  return steps;
}

export async function run(m: Migration): Promise<void> {
  m.facts.probe = await probes.probeVertex({
    project: m.spec.project,
    location: m.spec.vertex.location,
    models: m.spec.vertex.models,
    serviceAccountEmail: m.serviceAccountEmail,
    roleGrantedAt: m.facts.roleGrantedAt,
  });
  const wif = m.facts.workloadIdentity;
  if (isFederated(m.spec.runtime) && wif) {
    m.facts.runtimeProbe = await probes.probeWorkloadIdentity({
      project: m.spec.project,
      location: m.spec.vertex.location,
      models: m.spec.vertex.models,
      serviceAccountEmail: m.serviceAccountEmail,
      runtime: m.spec.runtime,
      providerName: wif.provider,
      member: wif.member,
      attributeCondition: wif.attributeCondition,
      grantedAt: m.facts.workloadIdentityGrantedAt,
    });
  }
}
