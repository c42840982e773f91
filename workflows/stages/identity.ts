// Identity: give the job the pipeline's account where it runs. For a CI runner or another OIDC
// issuer, a workload identity pool (one per project, adopted if it exists), an OIDC provider for
// the pipeline (its condition pinned to numeric ids) and roles/iam.workloadIdentityUser on the
// account for the runtime's principal, each recorded with its undo. A Google Cloud runtime already
// runs as an account (provision adopted it); an external one is the operator's to arrange.

import { log, patched } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { WORKLOAD_IDENTITY_USER_ROLE, isFederated, poolName, providerName, workloadIdentityPlan } from '../../contracts/runtime';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import { ErrorType } from '../../contracts/errors';
import { mutations, reads } from '../activities';
import { nowIso, type Migration } from '../migration';

/** Patch: migrations enter the identity stage (histories recorded before it went from provision to probe). */
const IDENTITY_STAGE = 'identity-stage';

export function entered(): boolean {
  return patched(IDENTITY_STAGE);
}

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const { runtime } = spec;
  if (runtime.kind === 'external') {
    return [{ stage: 'identity', mutation: 'note', target: spec.pipeline, detail: 'runtime external: the job gets the account\'s credentials the way its operator arranges; run `keyless doctor` inside the job before the cutover' }];
  }
  if (runtime.kind === 'google') {
    const account = facts.runtimeAccount?.email ?? pipelineAccount(spec).email ?? `the account of Cloud Run job ${runtime.cloudRunJob?.name}`;
    const steps: PlannedStep[] = [{ stage: 'identity', mutation: 'note', target: account, detail: 'the job runs on Google Cloud as this account: adopted (never created or deleted), nothing to federate' }];
    if (facts.runtimeAccount?.computeDefault) steps.push({ stage: 'identity', mutation: 'warning', target: account, detail: computeDefaultWarning(account) });
    return steps;
  }
  const wif = workloadIdentityPlan(runtime, spec.pipeline);
  const number = facts.projectNumber ?? spec.project;
  const known = facts.workloadIdentity;
  const email = pipelineAccount(spec).email!;
  if (spec.provisioning === 'pre-provisioned') {
    return [{ stage: 'identity', mutation: 'note', target: email, detail: `pre-provisioned: checks ${WORKLOAD_IDENTITY_USER_ROLE} for ${wif.member(number)} (pool ${wif.poolId}, provider ${wif.providerId} admitting only ${wif.attributeCondition}); makes nothing` }];
  }
  return [
    { stage: 'identity', mutation: 'workload-identity-pool-created', target: poolName(number, wif.poolId), detail: `pool ${wif.poolId} for the project's federated runtimes (adopted when it exists)`, ...(known?.pool === 'active' ? { alreadyDone: true } : {}), ...(known?.pool === 'deleted' ? { when: 'undeleted: its id is still reserved' } : {}) },
    { stage: 'identity', mutation: 'workload-identity-provider-created', target: providerName(number, wif.poolId, wif.providerId), detail: `OIDC provider for ${wif.issuer}, admitting only ${wif.attributeCondition}`, ...(known?.provider === 'active' ? { alreadyDone: true } : {}), ...(known?.provider === 'deleted' ? { when: 'undeleted: its id is still reserved' } : {}) },
    { stage: 'identity', mutation: 'workload-identity-user-granted', target: email, detail: `${WORKLOAD_IDENTITY_USER_ROLE} for ${wif.member(number)}`, ...(known?.userHeld ? { alreadyDone: true } : {}) },
  ];
}

export async function run(m: Migration): Promise<void> {
  const { runtime } = m.spec;
  if (runtime.kind === 'google' && m.facts.runtimeAccount?.computeDefault) m.warn(computeDefaultWarning(m.serviceAccountEmail));
  if (!isFederated(runtime)) return;
  const number = (m.facts.projectNumber ??= (await reads.projectNumber({ project: m.spec.project })).number);
  const wif = workloadIdentityPlan(runtime, m.spec.pipeline);
  if (m.spec.provisioning === 'pre-provisioned') return verifyPreProvisioned(m, number, wif);
  const [poolStep, providerStep, userStep] = plan(m.spec, { projectNumber: number });

  const pool = await mutations.ensureWorkloadIdentityPool({ projectNumber: number, poolId: wif.poolId });
  if (pool.created) m.recordMutation({ kind: 'workload-identity-pool-created', target: pool.name, detail: described(poolStep!, pool.undeleted) }, { id: `wif-pool:${pool.name}`, activity: 'deleteWorkloadIdentityPool', input: { name: pool.name } });

  const provider = await mutations.ensureWorkloadIdentityProvider({
    poolName: pool.name,
    providerId: wif.providerId,
    issuer: wif.issuer,
    allowedAudiences: wif.allowedAudiences,
    attributeMapping: wif.attributeMapping,
    attributeCondition: wif.attributeCondition,
    displayName: `keyless ${m.spec.pipeline}`.slice(0, 32),
  });
  if (provider.created) m.recordMutation({ kind: 'workload-identity-provider-created', target: provider.name, detail: described(providerStep!, provider.undeleted) }, { id: `wif-provider:${provider.name}`, activity: 'deleteWorkloadIdentityProvider', input: { name: provider.name } });

  const member = wif.member(number);
  const email = m.serviceAccountEmail;
  // As with the Vertex binding: a read kept in history settles who owns the grant, also when the
  // grant's own answer was lost and its retry finds it done.
  const heldBefore = (await reads.hasWorkloadIdentityUser({ serviceAccountEmail: email, member })).held;
  const grant = await mutations.ensureWorkloadIdentityUser({ serviceAccountEmail: email, member });
  if (grant.added || !heldBefore) {
    m.facts.workloadIdentityGrantedAt = nowIso();
    m.recordMutation({ kind: 'workload-identity-user-granted', target: email, detail: userStep!.detail }, { id: `wif-user:${email}:${member}`, activity: 'removeWorkloadIdentityUser', input: { serviceAccountEmail: email, member } });
  }
  m.facts.workloadIdentity = { pool: pool.name, provider: provider.name, member, attributeCondition: wif.attributeCondition };
  log.info('the runtime can act as the pipeline account', { provider: provider.name, member });
}

/**
 * Pre-provisioned: the operator made the pool, the provider and the binding. keyless reads the
 * binding (the probe then walks, or reads back, the provider the job will use) and fails naming
 * what is missing and the command that makes it.
 */
async function verifyPreProvisioned(m: Migration, number: string, wif: ReturnType<typeof workloadIdentityPlan>): Promise<void> {
  const member = wif.member(number);
  const email = m.serviceAccountEmail;
  const { held } = await reads.hasWorkloadIdentityUser({ serviceAccountEmail: email, member });
  m.facts.workloadIdentity = { pool: poolName(number, wif.poolId), provider: providerName(number, wif.poolId, wif.providerId), member, attributeCondition: wif.attributeCondition };
  if (!held) {
    m.requestRollback({
      reason: `provisioning is pre-provisioned, and ${WORKLOAD_IDENTITY_USER_ROLE} for ${member} on ${email} is missing (make it with: gcloud iam service-accounts add-iam-policy-binding ${email} --member=${member} --role=${WORKLOAD_IDENTITY_USER_ROLE}; the pool ${wif.poolId} and provider ${wif.providerId} must admit only ${wif.attributeCondition})`,
      failureType: ErrorType.MissingRole,
      at: nowIso(),
    });
    m.checkpoint();
  }
  // The grant's propagation window counts from now: it was made before keyless looked.
  m.facts.workloadIdentityGrantedAt = nowIso();
}

function described(step: PlannedStep, undeleted: boolean): string {
  return undeleted ? `${step.detail}; undeleted (its id was still reserved)` : step.detail;
}

function computeDefaultWarning(account: string): string {
  return `${account} is the Compute Engine default account, which often holds Editor on the whole project: run the job as a dedicated account with only the roles it needs, and point runtime.serviceAccount at it`;
}
