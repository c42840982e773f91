// Dual-run: the sample prompts through both paths (key → Gemini API, account → Vertex), compared;
// a breach of the thresholds rolls back with the report. Once it passed, nothing later acts as the
// account (the pipeline calls as itself), so the token-creator grant keyless made for the probe
// and the dual-run is taken back: a completed migration leaves the orchestrator no standing
// power over the account.

import { patched } from '@temporalio/workflow';
import { ErrorType } from '../../contracts/errors';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { TOKEN_CREATOR_ROLE } from '../../contracts/roles';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import { analyses, mutations } from '../activities';
import { nowIso, type Migration } from '../migration';

/** Patch: the token-creator grant keyless made is revoked once the dual-run passed (histories before it kept it). */
export const TOKEN_CREATOR_REVOKED = 'token-creator-revoked-after-dual-run';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const calls = spec.vertex.models.length * spec.dualRun.prompts.length * spec.dualRun.samples;
  const email = pipelineAccount(spec).email ?? facts.runtimeAccount?.email ?? 'the account';
  return [
    { stage: 'dual-run', mutation: 'note', target: `${spec.project}/${spec.vertex.location}`, detail: `${calls} dual-run call(s) per path (key and Vertex), compared against the spec's thresholds` },
    ...(facts.tokenCreatorHeld || spec.provisioning === 'pre-provisioned'
      ? []
      : [{ stage: 'dual-run' as const, mutation: 'token-creator-removed' as const, target: email, detail: `then ${TOKEN_CREATOR_ROLE} for ${facts.orchestratorEmail ?? 'the orchestrator'} is taken back (only the probe and the dual-run act as the account)` }]),
  ];
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
  if (m.facts.tokenCreatorAdded && patched(TOKEN_CREATOR_REVOKED)) await revokeTokenCreator(m);
}

/**
 * Takes back the orchestrator's token-creator grant on the account: the grant's own undo, run now
 * instead of at rollback, and marked done so rollback never runs it again. Its undo is nothing:
 * rollback needs no token of the account.
 */
async function revokeTokenCreator(m: Migration): Promise<void> {
  const email = m.serviceAccountEmail;
  const grant = m.mutations.find((x) => x.kind === 'token-creator-granted' && x.target === email && !x.undoneAt);
  if (!grant) return;
  await mutations.removeTokenCreator({ serviceAccountEmail: email });
  const at = nowIso();
  m.recordMutation({ kind: 'token-creator-removed', target: email, detail: `${TOKEN_CREATOR_ROLE} taken back once the dual-run passed: the orchestrator may no longer mint the account's tokens` });
  grant.undoneAt = at;
  const undo = m.undos.find((u) => u.id === `token-creator:${email}` && !u.doneAt);
  if (undo) undo.doneAt = at;
}
