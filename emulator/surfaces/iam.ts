// IAM API v1 service accounts (iam.googleapis.com): create with accountId rules, get, list,
// patch, delete/undelete, disable/enable, and each account's own IAM policy.

import type { EmuRequest, EmuResponse, Principal, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError, invalidArgument, permissionDenied } from '../core/errors';
import { newPolicy, newPolicyEtag, policyView, replacePolicy } from '../core/iam';
import { newUniqueId } from '../core/identity';
import type { ServiceAccountRecord } from '../core/state';

const ACCOUNT_ID = /^[a-z]([-a-z0-9]*[a-z0-9])$/;
const COLON = '(?::|%3A)';
const ACCOUNTS = '^/v1/projects/(?<project>[^/]+)/serviceAccounts';
const ACCOUNT = `${ACCOUNTS}/(?<account>[^/:]+)`;

/** The ServiceAccount JSON Google returns. */
export function serviceAccountView(account: ServiceAccountRecord): Record<string, unknown> {
  return {
    name: `projects/${account.projectId}/serviceAccounts/${account.email}`,
    projectId: account.projectId,
    uniqueId: account.uniqueId,
    email: account.email,
    ...(account.displayName ? { displayName: account.displayName } : {}),
    ...(account.description ? { description: account.description } : {}),
    etag: account.etag,
    oauth2ClientId: account.uniqueId,
    ...(account.disabled ? { disabled: true } : {}),
  };
}

/** The member strings of accounts this emulator owns must name live accounts. */
export function checkServiceAccountMember(core: EmulatorCore, legacy: boolean): (member: string) => void {
  return (member) => {
    const m = /^serviceAccount:(.+@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com)$/.exec(member);
    if (!m || !core.resolveProject(m[2]!)) return;
    if (!core.liveServiceAccount(m[1]!)) {
      throw invalidArgument(`Service account ${m[1]} does not exist.`, legacy ? { legacyReason: 'badRequest' } : {});
    }
  };
}

function stringField(value: unknown, field: string, maxBytes: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalidArgument(`Invalid value at '${field}': expected a string.`);
  if (Buffer.byteLength(value) > maxBytes) throw invalidArgument(`${field} must be at most ${maxBytes} bytes.`);
  return value;
}

export function iamRoutes(core: EmulatorCore): RouteDef[] {
  const auth = (req: EmuRequest) => core.requireCaller(req);

  function projectOf(req: EmuRequest, principal: Principal, permission: string) {
    const project = core.resolveProject(req.params.project!);
    if (!project) throw permissionDenied(permission);
    core.requirePermission(principal, project.projectId, permission);
    return project;
  }

  /** Resolves `projects/{p|-}/serviceAccounts/{email|uniqueId}` and checks the permission. */
  function accountOf(req: EmuRequest, principal: Principal, permission: string, options: { includeDeleted?: boolean } = {}): ServiceAccountRecord {
    const wildcard = req.params.project === '-';
    const ref = req.params.account!;
    const account = options.includeDeleted ? core.findServiceAccount(ref) : core.liveServiceAccount(ref);
    const inProject = account && (wildcard || core.resolveProject(req.params.project!)?.projectId === account.projectId);
    if (!account || !inProject) {
      // With `projects/-` Google cannot tell which project to check, so a missing account is a 403.
      if (wildcard || !core.resolveProject(req.params.project!)) throw permissionDenied(permission);
      const project = core.resolveProject(req.params.project!)!;
      if (!core.hasPermission(principal, project.projectId, permission)) throw permissionDenied(permission);
      throw new GoogleApiError('NOT_FOUND', 'Unknown service account', {});
    }
    if (!core.hasPermission(principal, account.projectId, permission, { resourcePolicy: account.policy })) throw permissionDenied(permission);
    return account;
  }

  const create = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    const project = projectOf(req, principal, 'iam.serviceAccounts.create');
    const body = (req.body ?? {}) as { accountId?: unknown; serviceAccount?: Record<string, unknown> };
    const accountId = body.accountId;
    if (typeof accountId !== 'string' || accountId.length < 6 || accountId.length > 30 || !ACCOUNT_ID.test(accountId)) {
      throw invalidArgument(
        `Invalid account ID ${JSON.stringify(accountId ?? '')}. It must be 6 to 30 characters, start with a lowercase letter, contain only lowercase letters, digits and hyphens, and not end with a hyphen.`,
        { legacyReason: 'badRequest' },
      );
    }
    const email = `${accountId}@${project.projectId}.iam.gserviceaccount.com`;
    const existing = core.state.serviceAccounts[email];
    if (existing && !existing.deleteTime) {
      throw new GoogleApiError('ALREADY_EXISTS', `Service account ${accountId} already exists within project projects/${project.projectId}.`, {
        details: [{ '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceName: `projects/${project.projectId}/serviceAccounts/${email}` }],
        legacyReason: 'alreadyExists',
      });
    }
    if (existing) {
      // The deleted account stays reachable by unique id for undelete; its email is free again.
      delete core.state.serviceAccounts[email];
      core.state.serviceAccounts[`deleted/${existing.uniqueId}`] = existing;
    }
    const sa = body.serviceAccount ?? {};
    const account: ServiceAccountRecord = {
      projectId: project.projectId,
      accountId,
      email,
      uniqueId: newUniqueId(),
      ...(stringField(sa.displayName, 'service_account.display_name', 100) ? { displayName: sa.displayName as string } : {}),
      ...(stringField(sa.description, 'service_account.description', 256) ? { description: sa.description as string } : {}),
      disabled: false,
      etag: newPolicyEtag(),
      policy: newPolicy([], core.nowIso()),
      keys: [],
      attachable: false,
      downloadableKey: false,
    };
    core.state.serviceAccounts[email] = account;
    core.markDirty();
    return { body: serviceAccountView(account) };
  };

  const list = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    const project = projectOf(req, principal, 'iam.serviceAccounts.list');
    const requested = Number(req.query.get('pageSize') ?? '0');
    const pageSize = !Number.isInteger(requested) || requested <= 0 ? 20 : Math.min(requested, 100);
    const token = req.query.get('pageToken');
    const offset = token ? Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^o:/, '')) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('Invalid page token.');
    const accounts = Object.values(core.state.serviceAccounts).filter((a) => a.projectId === project.projectId && !a.deleteTime);
    const page = accounts.slice(offset, offset + pageSize);
    const next = offset + pageSize < accounts.length ? Buffer.from(`o:${offset + pageSize}`).toString('base64url') : undefined;
    return { body: { ...(page.length > 0 ? { accounts: page.map(serviceAccountView) } : {}), ...(next ? { nextPageToken: next } : {}) } };
  };

  const get = (req: EmuRequest): EmuResponse => ({ body: serviceAccountView(accountOf(req, auth(req), 'iam.serviceAccounts.get')) });

  const update = (req: EmuRequest, fromPatch: boolean): EmuResponse => {
    const account = accountOf(req, auth(req), 'iam.serviceAccounts.update');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const source = (fromPatch ? (body.serviceAccount as Record<string, unknown> | undefined) : body) ?? {};
    const mask = fromPatch && typeof body.updateMask === 'string' ? body.updateMask.split(',').map((s) => s.trim()) : ['displayName', 'description'];
    for (const path of mask) {
      const field = path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      if (field === 'displayName') {
        const value = stringField(source.displayName, 'service_account.display_name', 100);
        if (value) account.displayName = value;
        else if (fromPatch) delete account.displayName;
      } else if (field === 'description') {
        const value = stringField(source.description, 'service_account.description', 256);
        if (value) account.description = value;
        else if (fromPatch) delete account.description;
      } else if (field !== '') {
        throw invalidArgument(`Invalid update mask path: ${path}. Only display_name and description can be updated.`);
      }
    }
    account.etag = newPolicyEtag();
    core.markDirty();
    return { body: serviceAccountView(account) };
  };

  const remove = (req: EmuRequest): EmuResponse => {
    const account = accountOf(req, auth(req), 'iam.serviceAccounts.delete');
    account.deleteTime = core.nowIso();
    core.markDirty();
    return { body: {} };
  };

  const setDisabled = (disabled: boolean) => (req: EmuRequest): EmuResponse => {
    const account = accountOf(req, auth(req), disabled ? 'iam.serviceAccounts.disable' : 'iam.serviceAccounts.enable');
    account.disabled = disabled;
    core.markDirty();
    return { body: {} };
  };

  const undelete = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    // Undelete addresses the account by unique id only.
    const account = core.findServiceAccount(req.params.account!);
    if (!account || account.uniqueId !== req.params.account) {
      if (!account) {
        const project = core.resolveProject(req.params.project!);
        if (!project || !core.hasPermission(principal, project.projectId, 'iam.serviceAccounts.undelete')) throw permissionDenied('iam.serviceAccounts.undelete');
        throw new GoogleApiError('NOT_FOUND', 'Unknown service account', {});
      }
      throw invalidArgument('Undelete requires the service account unique id in the resource name.');
    }
    core.requirePermission(principal, account.projectId, 'iam.serviceAccounts.undelete');
    if (!account.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', `Service account ${account.email} is not deleted.`);
    if (Date.parse(account.deleteTime) < core.now().getTime() - 30 * 86_400_000) throw new GoogleApiError('NOT_FOUND', 'Unknown service account', {});
    const live = core.state.serviceAccounts[account.email];
    if (live && live !== account && !live.deleteTime) {
      throw new GoogleApiError('FAILED_PRECONDITION', `An active service account with email ${account.email} exists; the deleted one cannot be restored.`);
    }
    for (const [k, v] of Object.entries(core.state.serviceAccounts)) if (v === account) delete core.state.serviceAccounts[k];
    delete account.deleteTime;
    core.state.serviceAccounts[account.email] = account;
    core.markDirty();
    return { body: { restoredAccount: serviceAccountView(account) } };
  };

  const getIamPolicy = (req: EmuRequest): EmuResponse => {
    const account = accountOf(req, auth(req), 'iam.serviceAccounts.getIamPolicy');
    const body = (req.body ?? {}) as { options?: { requestedPolicyVersion?: unknown } };
    const version = Number(req.query.get('options.requestedPolicyVersion') ?? body.options?.requestedPolicyVersion ?? 1);
    return { body: policyView(account.policy, version) };
  };

  const setIamPolicy = (req: EmuRequest): EmuResponse => {
    const account = accountOf(req, auth(req), 'iam.serviceAccounts.setIamPolicy');
    const body = (req.body ?? {}) as { policy?: unknown };
    if (body.policy === undefined) throw invalidArgument('Invalid JSON payload received. Missing required field "policy".');
    account.policy = replacePolicy(account.policy, body.policy, { now: core.nowIso(), checkMember: checkServiceAccountMember(core, true), legacy: true });
    core.markDirty();
    return { body: policyView(account.policy, 3) };
  };

  return [
    { method: 'POST', pattern: new RegExp(`${ACCOUNTS}$`), surface: 'iam', handler: create },
    { method: 'GET', pattern: new RegExp(`${ACCOUNTS}$`), surface: 'iam', handler: list },
    { method: 'GET', pattern: new RegExp(`${ACCOUNT}$`), surface: 'iam', handler: get },
    { method: 'PATCH', pattern: new RegExp(`${ACCOUNT}$`), surface: 'iam', handler: (req) => update(req, true) },
    { method: 'PUT', pattern: new RegExp(`${ACCOUNT}$`), surface: 'iam', handler: (req) => update(req, false) },
    { method: 'DELETE', pattern: new RegExp(`${ACCOUNT}$`), surface: 'iam', handler: remove },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}disable$`), surface: 'iam', handler: setDisabled(true) },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}enable$`), surface: 'iam', handler: setDisabled(false) },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}undelete$`), surface: 'iam', handler: undelete },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}getIamPolicy$`), surface: 'iam', handler: getIamPolicy, mutates: false },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}setIamPolicy$`), surface: 'iam', handler: setIamPolicy },
  ];
}
