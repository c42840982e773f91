// Cloud Resource Manager v1 and v3: projects.get and the project IAM policy with etags.
// A stale etag is refused with 409 ABORTED; no etag is a blind overwrite (Google's rules).

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError, invalidArgument } from '../core/errors';
import { modifiedRoles, policyView, replacePolicy } from '../core/iam';
import { checkServiceAccountMember } from './iam';

const COLON = '(?::|%3A)';

export function resourceManagerRoutes(core: EmulatorCore): RouteDef[] {
  function projectFor(req: EmuRequest, permission: string, legacy: boolean) {
    const principal = core.requireCaller(req);
    const project = core.resolveProject(req.params.project!);
    // CRM hides unknown projects and missing permissions behind the same 403.
    if (!project || !core.hasPermission(principal, project.projectId, permission)) {
      throw new GoogleApiError('PERMISSION_DENIED', 'The caller does not have permission', legacy ? { legacyReason: 'forbidden' } : {});
    }
    return project;
  }

  function requestedVersion(req: EmuRequest): number {
    const body = (req.body ?? {}) as { options?: { requestedPolicyVersion?: unknown } };
    const raw = body.options?.requestedPolicyVersion ?? req.query.get('options.requestedPolicyVersion') ?? 0;
    const version = Number(raw);
    if (![0, 1, 3].includes(version)) throw invalidArgument(`Invalid requested policy version ${JSON.stringify(raw)}; valid values are 0, 1 and 3.`);
    return version;
  }

  const getIamPolicy = (legacy: boolean) => (req: EmuRequest): EmuResponse => {
    const project = projectFor(req, 'resourcemanager.projects.getIamPolicy', legacy);
    return { body: policyView(project.policy, requestedVersion(req)) };
  };

  const setIamPolicy = (legacy: boolean) => (req: EmuRequest): EmuResponse => {
    const project = projectFor(req, 'resourcemanager.projects.setIamPolicy', legacy);
    const body = (req.body ?? {}) as { policy?: Record<string, unknown>; updateMask?: unknown };
    if (typeof body.policy !== 'object' || body.policy === null) {
      throw invalidArgument('Invalid JSON payload received. Missing required field "policy".', legacy ? { legacyReason: 'badRequest' } : {});
    }
    // Without a mask Google applies "bindings,etag": audit configs change only when named.
    const mask = typeof body.updateMask === 'string' ? body.updateMask.split(',').map((s) => s.trim()) : ['bindings', 'etag'];
    const input: Record<string, unknown> = { ...body.policy };
    if (!mask.includes('auditConfigs') && !mask.includes('audit_configs')) delete input.auditConfigs;
    if (!mask.includes('bindings')) input.bindings = project.policy.bindings;
    const next = replacePolicy(project.policy, input, { now: core.nowIso(), checkMember: checkServiceAccountMember(core, legacy), legacy });
    // A grant limited by a modifiedGrantsByRole condition covers only the roles it lists.
    if (!core.hasPermission(core.requireCaller(req), project.projectId, 'resourcemanager.projects.setIamPolicy', { modifiedRoles: modifiedRoles(project.policy, next) })) {
      throw new GoogleApiError('PERMISSION_DENIED', 'The caller does not have permission', legacy ? { legacyReason: 'forbidden' } : {});
    }
    project.policy = next;
    core.markDirty();
    return { body: policyView(project.policy, 3) };
  };

  const getProjectV1 = (req: EmuRequest): EmuResponse => {
    const project = projectFor(req, 'resourcemanager.projects.get', true);
    return {
      body: { projectNumber: project.projectNumber, projectId: project.projectId, lifecycleState: 'ACTIVE', name: project.projectId, createTime: '2024-01-15T10:00:00.000Z' },
    };
  };

  const getProjectV3 = (req: EmuRequest): EmuResponse => {
    const project = projectFor(req, 'resourcemanager.projects.get', false);
    return {
      body: {
        name: `projects/${project.projectNumber}`,
        projectId: project.projectId,
        state: 'ACTIVE',
        displayName: project.projectId,
        createTime: '2024-01-15T10:00:00.000Z',
        etag: `W/"${project.policy.etag}"`,
      },
    };
  };

  return [
    { method: 'POST', pattern: new RegExp(`^/v1/projects/(?<project>[^/:%]+)${COLON}getIamPolicy$`), surface: 'resourcemanager', handler: getIamPolicy(true), mutates: false },
    { method: 'POST', pattern: new RegExp(`^/v1/projects/(?<project>[^/:%]+)${COLON}setIamPolicy$`), surface: 'resourcemanager', handler: setIamPolicy(true) },
    { method: 'GET', pattern: /^\/v1\/projects\/(?<project>[^/:%]+)$/, surface: 'resourcemanager', handler: getProjectV1 },
    { method: 'POST', pattern: new RegExp(`^/v3/projects/(?<project>[^/:%]+)${COLON}getIamPolicy$`), surface: 'resourcemanager', handler: getIamPolicy(false), mutates: false },
    { method: 'POST', pattern: new RegExp(`^/v3/projects/(?<project>[^/:%]+)${COLON}setIamPolicy$`), surface: 'resourcemanager', handler: setIamPolicy(false) },
    { method: 'GET', pattern: /^\/v3\/projects\/(?<project>[^/:%]+)$/, surface: 'resourcemanager', handler: getProjectV3 },
  ];
}
