// IAM policies keyless reads and changes: the project's (the Vertex binding) and a service
// account's own (the orchestrator's token-creator grant). Every change is a read-modify-write with
// the policy's etag, so a concurrent change by someone else makes our write fail (409 ABORTED)
// instead of silently dropping theirs.

import type { cloudresourcemanager_v3 } from '@googleapis/cloudresourcemanager';
import type { iam_v1 } from '@googleapis/iam';
import { ErrorType, KeylessError } from '../contracts/errors';
import type { GoogleClients } from './clients';
import { describeGoogleError, googleError } from './errors';
import { accountResource } from './service-accounts';

export { TOKEN_CREATOR_ROLE, VERTEX_ROLE } from '../contracts/roles';

/** Conflicts retried inside one call; beyond this it fails Transient and the caller retries. */
const POLICY_WRITE_ATTEMPTS = 5;
const POLICY_BACKOFF_MS = 200;

/** An IAM policy as both Resource Manager and IAM return it. */
export interface Policy {
  version?: number | null;
  bindings?: Binding[] | null;
  etag?: string | null;
  [field: string]: unknown;
}
export interface Binding {
  role?: string | null;
  members?: string[] | null;
  condition?: unknown;
}

/** Reads and writes one resource's policy. */
export interface PolicyResource {
  describe: string;
  read(): Promise<Policy>;
  write(policy: Policy): Promise<Policy>;
}

/** The result of a policy read-modify-write. */
export interface PolicyChange {
  /** False when the policy already said so (nothing written). */
  changed: boolean;
  /** The policy's etag after the change (or as read, when unchanged). */
  etag: string;
  /** Wall-clock time by which the policy held the binding (the IAM propagation window starts here at the latest). */
  confirmedAt: string;
}

export function projectPolicy(clients: GoogleClients, project: string): PolicyResource {
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

export function serviceAccountPolicy(clients: GoogleClients, email: string): PolicyResource {
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

/** `serviceAccount:<email>` for a bare email; a member with a prefix stays as it is. */
export function asMember(memberOrEmail: string): string {
  return memberOrEmail.includes(':') ? memberOrEmail : `serviceAccount:${memberOrEmail}`;
}

/** The binding a plain grant goes into: the role's unconditional one (conditional ones are someone else's). */
export function isPlainBinding(binding: Binding, role: string): boolean {
  return binding.role === role && !binding.condition;
}

/** Whether the policy grants `role` to `member` unconditionally: the only grant keyless counts as held. */
export function holdsPlainBinding(policy: Pick<Policy, 'bindings'> | undefined, role: string, member: string): boolean {
  return (policy?.bindings ?? []).some((b) => isPlainBinding(b, role) && (b.members ?? []).includes(member));
}

/** Reads a policy, with the taxonomy's failures. */
export async function readPolicy(target: PolicyResource): Promise<Policy> {
  try {
    return await target.read();
  } catch (err) {
    throw googleError(err, { context: `read ${target.describe}` });
  }
}

/** Adds `member` to the role's unconditional binding, keeping every other binding. */
export function addMember(target: PolicyResource, role: string, member: string): Promise<PolicyChange> {
  return readModifyWrite(target, `grant ${role} to ${member}`, (policy) => {
    const bindings = policy.bindings ?? [];
    if (holdsPlainBinding(policy, role, member)) return undefined;
    const index = bindings.findIndex((b) => isPlainBinding(b, role));
    const next = index < 0
      ? [...bindings, { role, members: [member] }]
      : bindings.map((b, i) => (i === index ? { ...b, members: [...(b.members ?? []), member] } : b));
    return { ...policy, bindings: next };
  });
}

/** Removes `member` from the role's unconditional binding only; other members and conditional bindings stay. */
export function removeMember(target: PolicyResource, role: string, member: string): Promise<PolicyChange> {
  return readModifyWrite(target, `remove ${member} from ${role}`, (policy) => {
    const bindings = policy.bindings ?? [];
    if (!holdsPlainBinding(policy, role, member)) return undefined;
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
function readModifyWrite(target: PolicyResource, change: string, modify: (policy: Policy) => Policy | undefined): Promise<PolicyChange> {
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
    const policy = await readPolicy(target);
    const next = modify(policy);
    if (!next) return { changed: false, etag: policy.etag ?? '', confirmedAt: new Date().toISOString() };
    try {
      const written = await target.write(next);
      return { changed: true, etag: written.etag ?? '', confirmedAt: new Date().toISOString() };
    } catch (err) {
      const info = describeGoogleError(err);
      const conflict = info.httpStatus === 409 && info.status !== 'ALREADY_EXISTS';
      if (!conflict) throw googleError(err, { context: `${change} in ${target.describe}` });
      if (attempt >= POLICY_WRITE_ATTEMPTS) {
        throw new KeylessError({
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
