// Provision as activities: the pipeline's service account, its Vertex role on the project, the
// orchestrator's right to mint its tokens, and the compensations that undo exactly that. The work
// is the Google library's (google/service-accounts.ts, google/iam-policy.ts).

import type { KeylessActivities } from '../contracts/activities';
import type { GoogleClients } from '../google/clients';
import { TOKEN_CREATOR_ROLE, VERTEX_ROLE, addMember, asMember, holdsPlainBinding, projectPolicy, readPolicy, removeMember, serviceAccountPolicy } from '../google/iam-policy';
import { deleteServiceAccount, ensureServiceAccount, getServiceAccount, whoAmI } from '../google/service-accounts';
import { currentWorkflowRun } from './context';

type ProvisionActivities = Pick<
  KeylessActivities,
  'ensureServiceAccount' | 'ensureVertexRole' | 'hasVertexRole' | 'ensureTokenCreator' | 'removeVertexRole' | 'removeTokenCreator' | 'deleteServiceAccount' | 'whoAmI' | 'verifyProvisioned'
>;

export function createProvisionActivities(clients: GoogleClients, orchestratorEmail?: string): ProvisionActivities {
  const orchestrator = (explicit?: string) => whoAmI(clients, explicit ?? orchestratorEmail);
  return {
    ensureServiceAccount: (input) => ensureServiceAccount(clients, { ...input, owner: input.owner ?? currentWorkflowRun() }),
    async ensureVertexRole(input) {
      const { changed, etag, confirmedAt } = await addMember(projectPolicy(clients, input.project), VERTEX_ROLE, asMember(input.member));
      return { added: changed, etag, confirmedAt };
    },
    async hasVertexRole(input) {
      const policy = await readPolicy(projectPolicy(clients, input.project));
      return { held: holdsPlainBinding(policy, VERTEX_ROLE, asMember(input.member)) };
    },
    async ensureTokenCreator(input) {
      const email = await orchestrator(input.orchestratorEmail);
      const { changed, etag, confirmedAt } = await addMember(serviceAccountPolicy(clients, input.serviceAccountEmail), TOKEN_CREATOR_ROLE, asMember(email));
      return { added: changed, etag, confirmedAt, orchestratorEmail: email };
    },
    async removeVertexRole(input) {
      const member = asMember(input.member);
      const { changed, etag } = await removeMember(projectPolicy(clients, input.project), VERTEX_ROLE, member);
      return { removed: changed, etag, changes: [{ kind: 'role-removed', target: input.project, detail: `rollback: ${VERTEX_ROLE} removed for ${member.replace(/^serviceAccount:/, '')}` }] };
    },
    async removeTokenCreator(input) {
      const email = await orchestrator(input.orchestratorEmail);
      const changes = [{ kind: 'token-creator-removed' as const, target: input.serviceAccountEmail, detail: 'rollback: the orchestrator may no longer mint its tokens' }];
      // An account gone since has no policy left to clean.
      if (!(await getServiceAccount(clients, input.serviceAccountEmail))) return { removed: false, changes };
      const { changed } = await removeMember(serviceAccountPolicy(clients, input.serviceAccountEmail), TOKEN_CREATOR_ROLE, asMember(email));
      return { removed: changed, changes };
    },
    async deleteServiceAccount(input) {
      const { deleted } = await deleteServiceAccount(clients, input.email);
      return { deleted, changes: [{ kind: 'account-deleted', target: input.email, detail: 'rollback: the account keyless created is deleted' }] };
    },
    whoAmI: async () => ({ email: await orchestrator() }),
    async verifyProvisioned(input) {
      const email = await orchestrator();
      const missing: { what: string; fix: string }[] = [];
      const account = await getServiceAccount(clients, input.serviceAccountEmail);
      if (!account) {
        const [id, project] = input.serviceAccountEmail.split(/@|\./);
        missing.push({ what: `service account ${input.serviceAccountEmail}`, fix: `gcloud iam service-accounts create ${id} --project=${project}` });
      }
      const member = asMember(input.serviceAccountEmail);
      if (!holdsPlainBinding(await readPolicy(projectPolicy(clients, input.project)), VERTEX_ROLE, member)) {
        missing.push({ what: `${VERTEX_ROLE} for ${member} on ${input.project}`, fix: `gcloud projects add-iam-policy-binding ${input.project} --member=${member} --role=${VERTEX_ROLE}` });
      }
      const orchestratorMember = asMember(email);
      const onAccount = account ? holdsPlainBinding(await readPolicy(serviceAccountPolicy(clients, input.serviceAccountEmail)), TOKEN_CREATOR_ROLE, orchestratorMember) : false;
      const onProject = holdsPlainBinding(await readPolicy(projectPolicy(clients, input.project)), TOKEN_CREATOR_ROLE, orchestratorMember);
      if (!onAccount && !onProject) {
        missing.push({
          what: `${TOKEN_CREATOR_ROLE} for ${orchestratorMember} on ${input.serviceAccountEmail} (the probe and the dual-run act as the account; remove it once the dual-run passed)`,
          fix: `gcloud iam service-accounts add-iam-policy-binding ${input.serviceAccountEmail} --member=${orchestratorMember} --role=${TOKEN_CREATOR_ROLE}`,
        });
      }
      return { ...(account?.uniqueId ? { uniqueId: account.uniqueId } : {}), missing };
    },
  };
}
