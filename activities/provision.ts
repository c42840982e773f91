// Provision: the pipeline's service account, its Vertex role on the project, and the
// orchestrator's right to mint tokens for it; plus the compensations that undo exactly that.
// Every policy change is a read-modify-write with the policy's etag, so a concurrent change by
// someone else makes our write fail (409 ABORTED) instead of silently dropping theirs.

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { cloudresourcemanager_v3 } from '@googleapis/cloudresourcemanager';
import type { iam_v1 } from '@googleapis/iam';
import { GoogleAuth, Impersonated } from 'google-auth-library';
import { ErrorType } from '../contracts/errors';
import { describeGoogleError, toApplicationFailure } from './google-errors';
import type { GoogleClients } from './google-clients';

export const VERTEX_ROLE = 'roles/aiplatform.user';
export const TOKEN_CREATOR_ROLE = 'roles/iam.serviceAccountTokenCreator';

/** Conflicts retried inside one attempt; beyond this the activity fails Transient and Temporal retries it. */
const POLICY_WRITE_ATTEMPTS = 5;
const POLICY_BACKOFF_MS = 200;

/** What the provision activities need. */
export interface ProvisionDeps {
  clients: GoogleClients;
  /** The orchestrator's own email when the credentials cannot tell (a bare access token). */
  orchestratorEmail?: string;
}

/** An IAM policy as both Resource Manager and IAM return it. */
interface Policy {
  version?: number | null;
  bindings?: Binding[] | null;
  etag?: string | null;
  [field: string]: unknown;
}
interface Binding {
  role?: string | null;
  members?: string[] | null;
  condition?: unknown;
}

/** Reads and writes one resource's policy. */
interface PolicyResource {
  describe: string;
  read(): Promise<Policy>;
  write(policy: Policy): Promise<Policy>;
}

export interface EnsureServiceAccountInput {
  project: string;
  accountId: string;
  displayName?: string;
  /** False: the account must already exist (the spec adopts one someone else manages). */
  create: boolean;
  /**
   * Who asks (defaults to the workflow run inside an activity). Written into the
   * description of an account we create, so a retry after our own create still reports it as ours.
   */
  owner?: string;
}

export interface EnsureServiceAccountResult {
  email: string;
  uniqueId: string;
  /** True when keyless created it (for this owner), so rollback may delete it. */
  created: boolean;
}

/** A role granted (or found granted) on a policy. */
export interface RoleGrant {
  /** False when the policy already held the binding (nothing written). */
  added: boolean;
  etag: string;
  /** Wall-clock time by which the policy held the binding: the IAM propagation window starts here at the latest. */
  confirmedAt: string;
}

/** The result of a policy read-modify-write. */
interface PolicyChange {
  /** False when the policy already said so (nothing written). */
  changed: boolean;
  /** The policy's etag after the change (or as read, when unchanged). */
  etag: string;
  /** Wall-clock time by which the policy held the binding (the IAM propagation window starts here at the latest). */
  confirmedAt: string;
}

export function createProvisionActivities(deps: ProvisionDeps) {
  const { clients } = deps;

  return {
    /** Creates the pipeline's service account, or adopts it when it already exists. */
    async ensureServiceAccount(input: EnsureServiceAccountInput): Promise<EnsureServiceAccountResult> {
      const email = serviceAccountEmail(input.accountId, input.project);
      const marker = ownerMarker(input.owner ?? currentWorkflowRun());
      const existing = await getServiceAccount(clients, email);
      if (existing) return adopted(existing, marker);
      if (!input.create) {
        throw ApplicationFailure.create({
          type: ErrorType.InvalidSpec,
          nonRetryable: true,
          message: `service account ${email} does not exist and the spec says serviceAccount.create: false; create it or set create: true`,
          details: [{ email }],
        });
      }
      try {
        const { data } = await clients.iam.projects.serviceAccounts.create({
          name: `projects/${input.project}`,
          requestBody: {
            accountId: input.accountId,
            serviceAccount: {
              displayName: input.displayName ?? `keyless: ${input.accountId}`,
              ...(marker ? { description: marker } : {}),
            },
          },
        });
        return { email: data.email ?? email, uniqueId: data.uniqueId ?? '', created: true };
      } catch (err) {
        // Created between our read and our create (another worker, or a retry racing us): adopt it.
        if (describeGoogleError(err).httpStatus !== 409) throw toApplicationFailure(err, { context: `create service account ${email}` });
        const raced = await getServiceAccount(clients, email);
        if (!raced) throw toApplicationFailure(err, { context: `create service account ${email}` });
        return adopted(raced, marker);
      }
    },

    /** Grants roles/aiplatform.user on the project to the member, keeping every other binding. */
    async ensureVertexRole(input: { project: string; member: string }): Promise<RoleGrant> {
      return asGrant(await addMember(projectPolicy(clients, input.project), VERTEX_ROLE, asMember(input.member)));
    },

    /** Whether the project already grants roles/aiplatform.user to the member (read before the grant, to know who owns it). */
    async hasVertexRole(input: { project: string; member: string }): Promise<{ held: boolean }> {
      let policy: Policy;
      try {
        policy = await projectPolicy(clients, input.project).read();
      } catch (err) {
        throw toApplicationFailure(err, { context: `read the IAM policy of projects/${input.project}` });
      }
      const member = asMember(input.member);
      return { held: (policy.bindings ?? []).some((b) => isPlainBinding(b, VERTEX_ROLE) && (b.members ?? []).includes(member)) };
    },

    /** Lets the orchestrator mint tokens for the pipeline's account (on that account's own policy). */
    async ensureTokenCreator(input: { serviceAccountEmail: string; orchestratorEmail?: string }): Promise<RoleGrant & { orchestratorEmail: string }> {
      const orchestratorEmail = input.orchestratorEmail ?? (await whoAmI(clients, deps.orchestratorEmail));
      const change = await addMember(serviceAccountPolicy(clients, input.serviceAccountEmail), TOKEN_CREATOR_ROLE, asMember(orchestratorEmail));
      return { ...asGrant(change), orchestratorEmail };
    },

    /** Compensation: removes this member from the unconditional roles/aiplatform.user binding only; other members and conditional bindings stay. */
    async removeVertexRole(input: { project: string; member: string }): Promise<{ removed: boolean; etag: string }> {
      const { changed, etag } = await removeMember(projectPolicy(clients, input.project), VERTEX_ROLE, asMember(input.member));
      return { removed: changed, etag };
    },

    /** Compensation: takes back the orchestrator's token-creator grant on an account keyless keeps (one it adopted). */
    async removeTokenCreator(input: { serviceAccountEmail: string; orchestratorEmail?: string }): Promise<{ removed: boolean }> {
      const orchestratorEmail = input.orchestratorEmail ?? (await whoAmI(clients, deps.orchestratorEmail));
      // An account gone since has no policy left to clean.
      if (!(await getServiceAccount(clients, input.serviceAccountEmail))) return { removed: false };
      const { changed } = await removeMember(serviceAccountPolicy(clients, input.serviceAccountEmail), TOKEN_CREATOR_ROLE, asMember(orchestratorEmail));
      return { removed: changed };
    },

    /** Compensation: deletes the account keyless created; an account already gone is fine. */
    async deleteServiceAccount(input: { email: string }): Promise<{ deleted: boolean }> {
      try {
        await clients.iam.projects.serviceAccounts.delete({ name: accountResource(input.email) });
        return { deleted: true };
      } catch (err) {
        if (describeGoogleError(err).httpStatus === 404) return { deleted: false };
        throw toApplicationFailure(err, { context: `delete service account ${input.email}` });
      }
    },

    /** The orchestrator's own identity, as the workflow records it. */
    async whoAmI(): Promise<{ email: string }> {
      return { email: await whoAmI(clients, deps.orchestratorEmail) };
    },
  };
}

/** The provision activity interface. */
export type ProvisionActivities = ReturnType<typeof createProvisionActivities>;

/**
 * The orchestrator's email: an explicit one, else what the credentials say (a key file's
 * client_email, the metadata server's account, an impersonation target).
 */
export async function whoAmI(clients: Pick<GoogleClients, 'auth'>, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const { auth } = clients;
  if (auth instanceof Impersonated) return auth.getTargetPrincipal();
  if (auth instanceof GoogleAuth) {
    const { client_email: email } = await auth.getCredentials();
    if (email) return email;
  }
  throw ApplicationFailure.create({
    type: ErrorType.InvalidSpec,
    nonRetryable: true,
    message: 'cannot tell the orchestrator\'s own email from its credentials (a bare access token?); configure it explicitly',
  });
}

export function serviceAccountEmail(accountId: string, project: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}

/** `projects/<p>/serviceAccounts/<email>`, with the project read from the email where it can be. */
function accountResource(email: string): string {
  // Under `projects/-` Google answers a missing account with 403, which would hide a 404.
  const project = /^[^@]+@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? '-';
  return `projects/${project}/serviceAccounts/${email}`;
}

function asGrant({ changed, etag, confirmedAt }: PolicyChange): RoleGrant {
  return { added: changed, etag, confirmedAt };
}

function asMember(memberOrEmail: string): string {
  return memberOrEmail.includes(':') ? memberOrEmail : `serviceAccount:${memberOrEmail}`;
}

function ownerMarker(owner: string | undefined): string | undefined {
  return owner ? `Created by keyless for ${owner}.` : undefined;
}

/**
 * The workflow run asking: the workflow id alone repeats for every migration of a pipeline, and a
 * later migration must not claim (and on rollback delete) an account an earlier one created.
 */
function currentWorkflowRun(): string | undefined {
  try {
    const execution = Context.current().info.workflowExecution;
    return execution ? `${execution.workflowId} (run ${execution.runId})` : undefined;
  } catch {
    return undefined; // not running as an activity (a plain call in a script or test)
  }
}

interface AccountView {
  email?: string | null;
  uniqueId?: string | null;
  description?: string | null;
}

function adopted(account: AccountView, marker: string | undefined): EnsureServiceAccountResult {
  return { email: account.email ?? '', uniqueId: account.uniqueId ?? '', created: marker !== undefined && account.description === marker };
}

async function getServiceAccount(clients: GoogleClients, email: string): Promise<AccountView | undefined> {
  try {
    const { data } = await clients.iam.projects.serviceAccounts.get({ name: accountResource(email) });
    return data;
  } catch (err) {
    if (describeGoogleError(err).httpStatus === 404) return undefined;
    throw toApplicationFailure(err, { context: `read service account ${email}` });
  }
}

function projectPolicy(clients: GoogleClients, project: string): PolicyResource {
  const resource = `projects/${project}`;
  return {
    describe: `the IAM policy of ${resource}`,
    async read() {
      // Version 3, or conditional bindings come back stripped and our write would drop them.
      const { data } = await clients.resourceManager.projects.getIamPolicy({ resource, requestBody: { options: { requestedPolicyVersion: 3 } } });
      return data as Policy;
    },
    async write(policy) {
      const { data } = await clients.resourceManager.projects.setIamPolicy({ resource, requestBody: { policy: policy as cloudresourcemanager_v3.Schema$Policy, updateMask: 'bindings,etag' } });
      return data as Policy;
    },
  };
}

function serviceAccountPolicy(clients: GoogleClients, email: string): PolicyResource {
  const resource = accountResource(email);
  return {
    describe: `the IAM policy of ${email}`,
    async read() {
      const { data } = await clients.iam.projects.serviceAccounts.getIamPolicy({ resource, 'options.requestedPolicyVersion': 3 });
      return data as Policy;
    },
    async write(policy) {
      const { data } = await clients.iam.projects.serviceAccounts.setIamPolicy({ resource, requestBody: { policy: policy as iam_v1.Schema$Policy } });
      return data as Policy;
    },
  };
}

/** The binding a plain grant goes into: the role's unconditional one (conditional ones are someone else's). */
function isPlainBinding(binding: Binding, role: string): boolean {
  return binding.role === role && !binding.condition;
}

function addMember(target: PolicyResource, role: string, member: string): Promise<PolicyChange> {
  return readModifyWrite(target, `grant ${role} to ${member}`, (policy) => {
    const bindings = policy.bindings ?? [];
    if (bindings.some((b) => isPlainBinding(b, role) && b.members?.includes(member))) return undefined;
    const index = bindings.findIndex((b) => isPlainBinding(b, role));
    const next = index < 0
      ? [...bindings, { role, members: [member] }]
      : bindings.map((b, i) => (i === index ? { ...b, members: [...(b.members ?? []), member] } : b));
    return { ...policy, bindings: next };
  });
}

function removeMember(target: PolicyResource, role: string, member: string): Promise<PolicyChange> {
  return readModifyWrite(target, `remove ${member} from ${role}`, (policy) => {
    const bindings = policy.bindings ?? [];
    if (!bindings.some((b) => isPlainBinding(b, role) && b.members?.includes(member))) return undefined;
    const next = bindings
      .map((b) => (isPlainBinding(b, role) ? { ...b, members: (b.members ?? []).filter((m) => m !== member) } : b))
      // A binding without members is invalid; drop only the one we emptied.
      .filter((b) => !isPlainBinding(b, role) || (b.members ?? []).length > 0);
    return { ...policy, bindings: next };
  });
}

/**
 * Reads the policy, applies `modify` (undefined: nothing to do) and writes it back with the etag
 * it was read with. A 409 means someone changed the policy in between: re-read and redo the whole
 * change on their version, with backoff, so their bindings always survive.
 */
async function readModifyWrite(target: PolicyResource, change: string, modify: (policy: Policy) => Policy | undefined): Promise<PolicyChange> {
  return oneAtATime(target.describe, () => readModifyWriteNow(target, change, modify));
}

/**
 * Policy changes this process makes, one at a time per policy. Concurrent migrations on one worker
 * all grant on the same project policy; unserialized, they mostly conflicted with each other (409,
 * backoff, Transient retries: issue 9's fleet benchmark). Other workers and people still conflict,
 * and the etag loop below handles them.
 */
const policyQueues = new Map<string, Promise<unknown>>();

function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (policyQueues.get(key) ?? Promise.resolve()).then(fn);
  const tail = run.catch(() => undefined);
  policyQueues.set(key, tail);
  void tail.then(() => {
    if (policyQueues.get(key) === tail) policyQueues.delete(key);
  });
  return run;
}

async function readModifyWriteNow(target: PolicyResource, change: string, modify: (policy: Policy) => Policy | undefined): Promise<PolicyChange> {
  for (let attempt = 1; ; attempt += 1) {
    let policy: Policy;
    try {
      policy = await target.read();
    } catch (err) {
      throw toApplicationFailure(err, { context: `read ${target.describe}` });
    }
    const next = modify(policy);
    if (!next) return { changed: false, etag: policy.etag ?? '', confirmedAt: new Date().toISOString() };
    try {
      const written = await target.write(next);
      return { changed: true, etag: written.etag ?? '', confirmedAt: new Date().toISOString() };
    } catch (err) {
      const info = describeGoogleError(err);
      const conflict = info.httpStatus === 409 && info.status !== 'ALREADY_EXISTS';
      if (!conflict) throw toApplicationFailure(err, { context: `${change} in ${target.describe}` });
      if (attempt >= POLICY_WRITE_ATTEMPTS) {
        throw ApplicationFailure.create({
          type: ErrorType.Transient,
          message: `${change}: ${target.describe} changed concurrently ${attempt} times in a row; will retry`,
        });
      }
      await sleep(POLICY_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
