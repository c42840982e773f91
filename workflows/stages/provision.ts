// Provision: the pipeline's service account (created, or adopted when it exists; a Google Cloud
// runtime's own account, adopted and never deleted), its Vertex role on the project, and the
// orchestrator's right to mint its tokens. Each grant keyless makes is recorded with its undo, so
// rollback removes exactly what keyless added.

import { patched } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { TOKEN_CREATOR_ROLE, VERTEX_ROLE } from '../../contracts/roles';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import type { Undo } from '../../contracts/undo';
import { mutations, reads } from '../activities';
import { nowIso, type Migration } from '../migration';
import { ErrorType } from '../../contracts/errors';

/** Patch: provision reads whether the Vertex binding predates the migration (histories before it do not). */
const BINDING_OWNER_READ = 'binding-owner-read';

/** The three provision steps, always in this order: account, Vertex binding, token-creator grant. */
export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const account = pipelineAccount(spec);
  const email = account.email ?? facts.runtimeAccount?.email ?? `the account of Cloud Run job ${account.kind === 'runtime' ? account.cloudRunJob?.name : ''}`;
  const accountStep: PlannedStep =
    account.kind === 'runtime'
      ? { stage: 'provision', mutation: 'account-created', target: email, detail: 'the Google Cloud runtime\'s own account: adopted, never deleted (the job keeps its other permissions)', alreadyDone: true }
      : facts.accountExists
        ? { stage: 'provision', mutation: 'account-created', target: email, detail: 'exists: adopted (rollback will not delete it)', alreadyDone: true }
        : account.create
          ? { stage: 'provision', mutation: 'account-created', target: email, detail: `service account for ${spec.pipeline}${account.keepOnRollback ? ' (kept on rollback: serviceAccount.keepOnRollback)' : ''}` }
          : { stage: 'provision', mutation: 'warning', target: email, detail: 'does not exist and serviceAccount.create is false: the migration would roll back at provision' };
  const member = `serviceAccount:${email}`;
  if (spec.provisioning === 'pre-provisioned') {
    return [{ stage: 'provision', mutation: 'note', target: email, detail: `pre-provisioned: checks the account, ${VERTEX_ROLE} for ${member} on ${spec.project} and ${TOKEN_CREATOR_ROLE} for ${facts.orchestratorEmail ?? 'the orchestrator'}; makes nothing` }];
  }
  return [
    accountStep,
    { stage: 'provision', mutation: 'role-granted', target: spec.project, detail: `${VERTEX_ROLE} for ${member}`, ...(facts.vertexRoleHeld ? { alreadyDone: true } : {}) },
    {
      stage: 'provision',
      mutation: 'token-creator-granted',
      target: email,
      detail: `${TOKEN_CREATOR_ROLE} for ${facts.orchestratorEmail ?? 'the orchestrator'}`,
      ...(facts.tokenCreatorHeld ? { alreadyDone: true } : {}),
    },
  ];
}

export async function run(m: Migration): Promise<void> {
  if (m.spec.provisioning === 'pre-provisioned') return verifyPreProvisioned(m);
  const { spec } = m;
  const wanted = pipelineAccount(spec);
  const keep = wanted.kind === 'managed' && wanted.keepOnRollback;
  let account: { email: string; uniqueId: string; created: boolean };
  if (wanted.kind === 'runtime') {
    const found = await reads.resolveRuntimeAccount({ project: spec.project, ...(wanted.email ? { serviceAccount: wanted.email } : {}), ...(wanted.cloudRunJob ? { cloudRunJob: wanted.cloudRunJob } : {}), accountInAnotherProject: wanted.accountInAnotherProject });
    m.facts.runtimeAccount = { email: found.email, source: found.source, computeDefault: found.computeDefault };
    account = { email: found.email, uniqueId: found.uniqueId, created: false };
  } else {
    account = await mutations.ensureServiceAccount({ project: spec.project, accountId: wanted.accountId, displayName: wanted.displayName ?? `keyless: ${spec.pipeline}`, create: wanted.create });
  }
  m.facts.serviceAccountEmail = account.email;
  m.facts.serviceAccountUniqueId = account.uniqueId;
  const [accountStep, roleStep] = plan(spec, { accountExists: !account.created, runtimeAccount: { email: account.email, computeDefault: false } });
  const accountUndo: Undo = { id: `service-account:${account.email}`, activity: 'deleteServiceAccount', input: { email: account.email } };
  if (account.created) {
    m.facts.accountCreated = true;
    m.recordMutation({ kind: 'account-created', target: account.email, detail: accountStep!.detail }, keep ? undefined : accountUndo);
  }

  const member = `serviceAccount:${account.email}`;
  // Who owns the binding is settled by a read kept in history before the grant: a retried grant
  // that finds the binding its own lost attempt wrote must still count it as ours, or rollback
  // would leave it behind.
  const heldBefore = patched(BINDING_OWNER_READ) ? (await reads.hasVertexRole({ project: spec.project, member })).held : true;
  const role = await mutations.ensureVertexRole({ project: spec.project, member });
  if (role.added || !heldBefore) {
    m.facts.roleAdded = true;
    m.facts.roleGrantedAt = role.confirmedAt;
    const undo: Undo = { id: `vertex-role:${spec.project}:${member}`, activity: 'removeVertexRole', input: { project: spec.project, member } };
    m.recordMutation({ kind: 'role-granted', target: roleStep!.target, detail: `${VERTEX_ROLE} for ${member}` }, keep ? undefined : undo);
  }

  const tokenCreator = await mutations.ensureTokenCreator({ serviceAccountEmail: account.email });
  if (tokenCreator.added) {
    m.facts.tokenCreatorAdded = true;
    const [, , tokenStep] = plan(spec, { orchestratorEmail: tokenCreator.orchestratorEmail });
    // The grant lives on the account's own policy: deleting an account keyless created takes it along.
    const undo: Undo | { undoneWith: string } | undefined = keep
      ? undefined
      : account.created
        ? { undoneWith: accountUndo.id }
        : { id: `token-creator:${account.email}`, activity: 'removeTokenCreator', input: { serviceAccountEmail: account.email } };
    m.recordMutation({ kind: 'token-creator-granted', target: account.email, detail: tokenStep!.detail }, undo);
  }
}

/** Pre-provisioned: the operator made the account and its grants; keyless reads them, changes nothing, and fails naming each missing piece with its command. */
async function verifyPreProvisioned(m: Migration): Promise<void> {
  const { spec } = m;
  const wanted = pipelineAccount(spec);
  let email = wanted.email;
  if (wanted.kind === 'runtime') {
    const found = await reads.resolveRuntimeAccount({ project: spec.project, ...(wanted.email ? { serviceAccount: wanted.email } : {}), ...(wanted.cloudRunJob ? { cloudRunJob: wanted.cloudRunJob } : {}), accountInAnotherProject: wanted.accountInAnotherProject });
    m.facts.runtimeAccount = { email: found.email, source: found.source, computeDefault: found.computeDefault };
    email = found.email;
  }
  const verified = await reads.verifyProvisioned({ project: spec.project, serviceAccountEmail: email! });
  m.facts.serviceAccountEmail = email;
  if (verified.uniqueId) m.facts.serviceAccountUniqueId = verified.uniqueId;
  if (verified.missing.length > 0) {
    m.requestRollback({
      reason: `provisioning is pre-provisioned, and this is missing: ${verified.missing.map((x) => `${x.what} (make it with: ${x.fix})`).join('; ')}`,
      failureType: ErrorType.MissingRole,
      at: nowIso(),
    });
    m.checkpoint();
  }
}
