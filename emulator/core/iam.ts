// IAM as the emulator evaluates it: a small role → permission table (real role and permission
// names), members of a principal, policy read-modify-write with etags, and when each binding
// was added so a propagation delay can be applied.

import { randomBytes } from 'node:crypto';
import type { Principal } from './contract';
import { GoogleApiError, invalidArgument } from './errors';
import type { Binding, PolicyRecord } from './state';

const SA_ADMIN = ['create', 'delete', 'disable', 'enable', 'get', 'getIamPolicy', 'list', 'setIamPolicy', 'undelete', 'update'].map(
  (verb) => `iam.serviceAccounts.${verb}`,
);
const TOKEN_CREATOR = ['getAccessToken', 'getOpenIdToken', 'implicitDelegation', 'signBlob', 'signJwt'].map((verb) => `iam.serviceAccounts.${verb}`);
const WIF_READ = ['iam.workloadIdentityPools.get', 'iam.workloadIdentityPools.list', 'iam.workloadIdentityPoolProviders.get', 'iam.workloadIdentityPoolProviders.list'];
const RUN_READ = ['run.jobs.get', 'run.jobs.list', 'run.services.get', 'run.services.list'];

/** Permissions of the roles the emulator knows; a trailing `*` matches a prefix. */
export const ROLE_PERMISSIONS: Record<string, readonly string[]> = {
  'roles/owner': ['*'],
  'roles/editor': ['apikeys.*', 'iam.serviceAccounts.*', 'monitoring.*', 'storage.*', 'aiplatform.*', 'resourcemanager.projects.get', 'resourcemanager.projects.getIamPolicy', ...WIF_READ, 'run.*'],
  'roles/viewer': [
    'apikeys.keys.get',
    'apikeys.keys.list',
    'iam.serviceAccounts.get',
    'iam.serviceAccounts.list',
    'iam.serviceAccounts.getIamPolicy',
    'resourcemanager.projects.get',
    'resourcemanager.projects.getIamPolicy',
    'monitoring.timeSeries.list',
    'storage.objects.get',
    'storage.objects.list',
    ...WIF_READ,
    ...RUN_READ,
  ],
  'roles/serviceusage.apiKeysAdmin': ['apikeys.keys.*', 'serviceusage.services.list', 'resourcemanager.projects.get'],
  'roles/serviceusage.apiKeysViewer': ['apikeys.keys.get', 'apikeys.keys.list', 'apikeys.keys.lookup'],
  'roles/iam.serviceAccountAdmin': [...SA_ADMIN, 'resourcemanager.projects.get'],
  'roles/iam.serviceAccountViewer': ['iam.serviceAccounts.get', 'iam.serviceAccounts.list', 'resourcemanager.projects.get'],
  'roles/iam.serviceAccountUser': ['iam.serviceAccounts.actAs', 'iam.serviceAccounts.get', 'iam.serviceAccounts.list'],
  'roles/iam.serviceAccountTokenCreator': TOKEN_CREATOR,
  // What a federated principal needs on an account to impersonate it.
  'roles/iam.workloadIdentityUser': ['iam.serviceAccounts.get', 'iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.getOpenIdToken', 'iam.serviceAccounts.list'],
  'roles/iam.workloadIdentityPoolAdmin': ['iam.workloadIdentityPools.*', 'iam.workloadIdentityPoolProviders.*', 'resourcemanager.projects.get'],
  'roles/iam.workloadIdentityPoolViewer': WIF_READ,
  'roles/run.viewer': RUN_READ,
  'roles/run.developer': ['run.*'],
  'roles/run.admin': ['run.*'],
  // Reads every IAM policy, changes none: what keyless needs in pre-provisioned mode.
  'roles/iam.securityReviewer': ['iam.serviceAccounts.getIamPolicy', 'iam.serviceAccounts.get', 'iam.serviceAccounts.list', 'resourcemanager.projects.get', 'resourcemanager.projects.getIamPolicy', ...WIF_READ],
  'roles/iam.securityAdmin': ['iam.serviceAccounts.getIamPolicy', 'iam.serviceAccounts.setIamPolicy', 'resourcemanager.projects.getIamPolicy', 'resourcemanager.projects.setIamPolicy'],
  'roles/resourcemanager.projectIamAdmin': ['resourcemanager.projects.getIamPolicy', 'resourcemanager.projects.setIamPolicy'],
  'roles/monitoring.viewer': ['monitoring.timeSeries.list', 'monitoring.metricDescriptors.get', 'monitoring.metricDescriptors.list'],
  'roles/storage.objectAdmin': ['storage.objects.*'],
  'roles/storage.objectViewer': ['storage.objects.get', 'storage.objects.list'],
  'roles/aiplatform.user': ['aiplatform.endpoints.predict', 'aiplatform.endpoints.get', 'aiplatform.endpoints.list'],
};

export function roleGrants(role: string, permission: string): boolean {
  const permissions = ROLE_PERMISSIONS[role];
  if (!permissions) return false;
  return permissions.some((p) => p === permission || p === '*' || (p.endsWith('*') && permission.startsWith(p.slice(0, -1))));
}

/** The policy members that denote a principal. */
export function membersOf(principal: Principal): string[] {
  switch (principal.kind) {
    case 'serviceAccount':
      return [`serviceAccount:${principal.email}`, 'allAuthenticatedUsers', 'allUsers'];
    case 'user':
      return [`user:${principal.email}`, 'allAuthenticatedUsers', 'allUsers'];
    case 'apiKey':
      return principal.serviceAccountEmail ? [`serviceAccount:${principal.serviceAccountEmail}`, 'allAuthenticatedUsers', 'allUsers'] : ['allUsers'];
    case 'federated':
      return [...principal.members, 'allAuthenticatedUsers', 'allUsers'];
  }
}

/** The policy member string of a principal, for audit entries and messages. */
export function describePrincipal(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  if (principal.kind === 'apiKey') return `apiKey:${principal.keyName}`;
  if (principal.kind === 'federated') return principal.member;
  return `${principal.kind}:${principal.email}`;
}

export const bindingKey = (role: string, member: string) => `${role} ${member}`;

/**
 * The one IAM condition the emulator evaluates: Google's documented form that limits a
 * setIamPolicy grant to the roles it lists,
 * `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/…', …])`.
 * Returns the listed roles, or undefined for any other expression (refused when written).
 */
export function grantsConditionRoles(expression: string): string[] | undefined {
  const m = /^\s*api\.getAttribute\(\s*(['"])iam\.googleapis\.com\/modifiedGrantsByRole\1\s*,\s*\[\s*\]\s*\)\.hasOnly\(\s*\[([^\]]*)\]\s*\)\s*$/.exec(expression);
  if (!m) return undefined;
  const items = m[2]!.split(',').map((x) => x.trim()).filter(Boolean);
  const roles = items.map((x) => /^(['"])(roles\/[A-Za-z0-9_.]+)\1$/.exec(x)?.[2]);
  return roles.every((r): r is string => r !== undefined) ? roles : undefined;
}

/** What a permission check knows of the request: the roles a setIamPolicy call changes (none for any other call). */
export interface GrantContext {
  modifiedRoles?: readonly string[];
}

/** Binding check of one policy: does any of `members` hold a role granting `permission`, and since when; a conditional binding counts only where its condition holds. */
export function policyGrant(policy: PolicyRecord, members: readonly string[], test: (role: string) => boolean, context: GrantContext = {}): { granted: boolean; since?: string } {
  let since: string | undefined;
  for (const binding of policy.bindings) {
    if (!test(binding.role)) continue;
    if (binding.condition) {
      const allowed = grantsConditionRoles(binding.condition.expression);
      // Outside setIamPolicy the attribute is the empty list, for which hasOnly holds.
      if (!allowed || !(context.modifiedRoles ?? []).every((r) => allowed.includes(r))) continue;
    }
    for (const member of binding.members) {
      if (!members.includes(member)) continue;
      const at = policy.grantedAt[bindingKey(binding.role, member)] ?? '1970-01-01T00:00:00.000Z';
      if (since === undefined || at < since) since = at;
    }
  }
  return since === undefined ? { granted: false } : { granted: true, since };
}

/** An etag in Google's policy format (8 random bytes, base64). */
export function newPolicyEtag(): string {
  return randomBytes(8).toString('base64');
}

export function newPolicy(bindings: Binding[], grantedAt: string): PolicyRecord {
  const policy: PolicyRecord = { version: 1, bindings: [], etag: newPolicyEtag(), grantedAt: {} };
  for (const binding of bindings) addBinding(policy, binding.role, binding.members, grantedAt);
  return policy;
}

/** Adds members to a role (merging into an unconditional binding), recording when. */
export function addBinding(policy: PolicyRecord, role: string, members: readonly string[], at: string): void {
  let binding = policy.bindings.find((b) => b.role === role && !b.condition);
  if (!binding) {
    binding = { role, members: [] };
    policy.bindings.push(binding);
  }
  for (const member of members) {
    if (!binding.members.includes(member)) binding.members.push(member);
    policy.grantedAt[bindingKey(role, member)] ??= at;
  }
}

/** The Policy JSON Google returns (no bookkeeping fields). */
export function policyView(policy: PolicyRecord, requestedVersion?: number): Record<string, unknown> {
  const hasConditions = policy.bindings.some((b) => b.condition);
  // Google answers version 1 when nothing needs 3, and hides conditional bindings from old readers.
  const version = hasConditions && requestedVersion === 3 ? 3 : 1;
  const bindings = policy.bindings.filter((b) => version === 3 || !b.condition);
  return {
    version,
    ...(bindings.length > 0 ? { bindings } : {}),
    ...(policy.auditConfigs && policy.auditConfigs.length > 0 ? { auditConfigs: policy.auditConfigs } : {}),
    etag: policy.etag,
  };
}

const MEMBER_PATTERN = /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet|deleted:serviceAccount|deleted:user|deleted:group|projectOwner|projectEditor|projectViewer):.+)$/;

export interface SetPolicyOptions {
  now: string;
  /** Throws for members that must exist (e.g. unknown service accounts of this emulator). */
  checkMember?: (member: string) => void;
  /** Adds the legacy `errors[]` array to failures (CRM v1). */
  legacy?: boolean;
}

/**
 * setIamPolicy semantics: a stale etag is refused with 409 ABORTED; no etag is a blind
 * overwrite. Returns the replaced record (new etag, grant times kept for surviving bindings).
 */
export function replacePolicy(current: PolicyRecord, input: unknown, options: SetPolicyOptions): PolicyRecord {
  if (typeof input !== 'object' || input === null) throw invalidArgument('Invalid JSON payload received. Missing required field "policy".');
  const policy = input as { version?: unknown; bindings?: unknown; etag?: unknown; auditConfigs?: unknown };
  if (policy.etag !== undefined && policy.etag !== '' && policy.etag !== current.etag) {
    throw new GoogleApiError('ABORTED', 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.', {
      ...(options.legacy ? { legacyReason: 'aborted' } : {}),
    });
  }
  const rawBindings = policy.bindings ?? [];
  if (!Array.isArray(rawBindings)) throw invalidArgument('Invalid value at \'policy.bindings\': expected a list.');
  const bindings: Binding[] = [];
  let hasConditions = false;
  for (const [i, raw] of rawBindings.entries()) {
    const b = raw as { role?: unknown; members?: unknown; condition?: unknown };
    if (typeof b?.role !== 'string' || !/^(roles|projects\/[^/]+\/roles|organizations\/[^/]+\/roles)\/[A-Za-z0-9_.]+$/.test(b.role)) {
      throw invalidArgument(`Role ${JSON.stringify(b?.role ?? '')} is not valid (policy.bindings[${i}].role).`);
    }
    const members = Array.isArray(b.members) ? b.members : [];
    for (const member of members) {
      if (typeof member !== 'string' || !MEMBER_PATTERN.test(member)) {
        throw invalidArgument(`Invalid member: ${JSON.stringify(member)}. Policy members must be of the form "<type>:<value>".`);
      }
      options.checkMember?.(member);
    }
    if (b.condition !== undefined) {
      hasConditions = true;
      const expression = (b.condition as { expression?: unknown } | null)?.expression;
      // A condition the emulator cannot evaluate is refused, never stored and ignored: ignoring it would grant more than the policy says.
      if (typeof expression !== 'string' || grantsConditionRoles(expression) === undefined) {
        throw invalidArgument(
          `Condition of policy.bindings[${i}] is not one the emulator evaluates: it evaluates api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/…']) only, and refuses any other conditional binding rather than ignore its condition.`,
        );
      }
    }
    bindings.push({ role: b.role, members: [...new Set(members as string[])], ...(b.condition !== undefined ? { condition: b.condition as Binding['condition'] } : {}) });
  }
  const version = typeof policy.version === 'number' ? policy.version : Number(policy.version ?? 1);
  if (hasConditions && version !== 3) {
    throw invalidArgument('Conditions are only supported in policy version 3; set policy.version to 3.');
  }
  const grantedAt: Record<string, string> = {};
  for (const binding of bindings) {
    for (const member of binding.members) {
      const key = bindingKey(binding.role, member);
      grantedAt[key] = current.grantedAt[key] ?? options.now;
    }
  }
  return {
    version: hasConditions ? 3 : 1,
    bindings: bindings.filter((b) => b.members.length > 0),
    ...(Array.isArray(policy.auditConfigs) ? { auditConfigs: policy.auditConfigs } : current.auditConfigs ? { auditConfigs: current.auditConfigs } : {}),
    etag: newPolicyEtag(),
    grantedAt,
  };
}

/** Roles whose members differ between two policies (conditional bindings included): what a setIamPolicy call modifies. */
export function modifiedRoles(before: PolicyRecord, after: PolicyRecord): string[] {
  const view = (p: PolicyRecord) => {
    const byRole = new Map<string, Set<string>>();
    for (const b of p.bindings) for (const m of b.members) (byRole.get(b.role) ?? byRole.set(b.role, new Set()).get(b.role)!).add(`${m}|${b.condition?.expression ?? ''}`);
    return byRole;
  };
  const a = view(before);
  const b = view(after);
  const roles = new Set([...a.keys(), ...b.keys()]);
  return [...roles].filter((role) => {
    const x = a.get(role) ?? new Set<string>();
    const y = b.get(role) ?? new Set<string>();
    return x.size !== y.size || [...x].some((v) => !y.has(v));
  });
}
