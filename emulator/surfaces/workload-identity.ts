// IAM v1 (and v1beta) workload identity pools and their OIDC providers (iam.googleapis.com):
// create, get, list (showDeleted, paging), patch (updateMask), delete and undelete, each change a
// long-running operation named `{resource}/operations/{id}` and done at once. A deleted pool or
// provider keeps its id for 30 days of emulator time (re-creating it answers 409), can be
// undeleted in that window, and is purged after it.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EmuRequest, EmuResponse, Principal, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError, invalidArgument, permissionDenied } from '../core/errors';
import type { WorkloadIdentityPoolProviderRecord, WorkloadIdentityPoolRecord } from '../core/state';
import { poolNameOf, providerNameOf, providerProblem, WIF_UNDELETE_WINDOW_MS, wifIdProblem } from '../core/workload-identity';

const COLON = '(?::|%3A)';
const PARENT = '^/(?<version>v1|v1beta)/projects/(?<project>[^/]+)/locations/(?<location>[^/]+)/workloadIdentityPools';
const POOL = `${PARENT}/(?<pool>[^/:]+)`;
const PROVIDER = `${POOL}/providers/(?<provider>[^/:]+)`;
const NOT_FOUND = 'Requested entity was not found.';
const POOL_PAGE = { default: 50, max: 1000 };
const PROVIDER_PAGE = { default: 50, max: 100 };

const PoolBodySchema = z
  .object({
    displayName: z.string().max(32, 'display name must be less than or equal to 32 characters').optional(),
    description: z.string().max(256, 'description must be less than or equal to 256 characters').optional(),
    disabled: z.boolean().optional(),
  })
  .loose();

const ProviderBodySchema = z
  .object({
    displayName: z.string().optional(),
    description: z.string().optional(),
    disabled: z.boolean().optional(),
    attributeMapping: z.record(z.string(), z.string()).optional(),
    attributeCondition: z.string().optional(),
    oidc: z.object({ issuerUri: z.string().optional(), allowedAudiences: z.array(z.string()).optional(), jwksJson: z.string().optional() }).optional(),
    aws: z.unknown().optional(),
    saml: z.unknown().optional(),
    x509: z.unknown().optional(),
  })
  .loose();

type Kind = 'pool' | 'provider';
type PoolView = Record<string, unknown>;

function stateFields(record: { deleteTime?: string; disabled: boolean }): Record<string, unknown> {
  return {
    state: record.deleteTime ? 'DELETED' : 'ACTIVE',
    ...(record.disabled ? { disabled: true } : {}),
    ...(record.deleteTime ? { expireTime: new Date(Date.parse(record.deleteTime) + WIF_UNDELETE_WINDOW_MS).toISOString() } : {}),
  };
}

/** The WorkloadIdentityPool JSON Google returns. */
export function poolView(pool: WorkloadIdentityPoolRecord): PoolView {
  return {
    name: pool.name,
    ...(pool.displayName ? { displayName: pool.displayName } : {}),
    ...(pool.description ? { description: pool.description } : {}),
    ...stateFields(pool),
  };
}

/** The WorkloadIdentityPoolProvider JSON Google returns. */
export function providerView(provider: WorkloadIdentityPoolProviderRecord): PoolView {
  return {
    name: provider.name,
    ...(provider.displayName ? { displayName: provider.displayName } : {}),
    ...(provider.description ? { description: provider.description } : {}),
    ...stateFields(provider),
    attributeMapping: provider.attributeMapping,
    ...(provider.attributeCondition ? { attributeCondition: provider.attributeCondition } : {}),
    oidc: {
      issuerUri: provider.oidc.issuerUri,
      ...(provider.oidc.allowedAudiences.length > 0 ? { allowedAudiences: provider.oidc.allowedAudiences } : {}),
      ...(provider.oidc.jwksJson ? { jwksJson: provider.oidc.jwksJson } : {}),
    },
  };
}

function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw invalidArgument(result.error.issues[0]!.message.replace(/^Invalid input: /, ''));
  return result.data;
}

/** `displayName,oidc.allowed_audiences` → camelCase paths; required, as on IAM v1. */
function maskOf(req: EmuRequest): string[] {
  const raw = req.query.get('updateMask') ?? req.query.get('update_mask');
  if (!raw) throw invalidArgument('update_mask is required.');
  return raw.split(',').map((p) => p.trim().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())).filter(Boolean);
}

function pageOf<T>(req: EmuRequest, items: T[], limits: { default: number; max: number }): { page: T[]; next?: string } {
  const requested = Number(req.query.get('pageSize') ?? '0');
  if (!Number.isInteger(requested) || requested < 0) throw invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), "${req.query.get('pageSize')}"`);
  const size = requested === 0 ? limits.default : Math.min(requested, limits.max);
  const token = req.query.get('pageToken');
  let offset = 0;
  if (token) {
    const decoded = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!decoded) throw invalidArgument('Invalid page token.');
    offset = Number(decoded[1]);
  }
  const next = offset + size < items.length ? Buffer.from(`o:${offset + size}`).toString('base64url') : undefined;
  return { page: items.slice(offset, offset + size), ...(next ? { next } : {}) };
}

export function workloadIdentityRoutes(core: EmulatorCore): RouteDef[] {
  const pools = () => core.state.workloadIdentityPools;
  const providers = () => core.state.workloadIdentityPoolProviders;

  /** Drops what was deleted more than 30 days ago (emulator clock), freeing its id. */
  function purgeExpired(): void {
    const cutoff = core.now().getTime() - WIF_UNDELETE_WINDOW_MS;
    let changed = false;
    for (const pool of Object.values(pools())) {
      if (pool.deleteTime && Date.parse(pool.deleteTime) < cutoff) {
        delete pools()[pool.name];
        changed = true;
      }
    }
    for (const provider of Object.values(providers())) {
      if (!pools()[provider.poolName] || (provider.deleteTime && Date.parse(provider.deleteTime) < cutoff)) {
        delete providers()[provider.name];
        changed = true;
      }
    }
    if (changed) core.markDirty();
  }

  /** The project of the path (id or number), with the caller's permission on it checked. */
  function projectOf(req: EmuRequest, principal: Principal, permission: string) {
    const project = core.resolveProject(req.params.project!);
    const resource = `//iam.googleapis.com/projects/${project?.projectNumber ?? req.params.project}/locations/${req.params.location}`;
    if (!project || !core.hasPermission(principal, project.projectId, permission)) throw permissionDenied(permission, resource);
    if (req.params.location !== 'global') throw invalidArgument(`Location ${req.params.location} is not supported. The only supported location is global.`);
    purgeExpired();
    return project;
  }

  function poolOf(req: EmuRequest, principal: Principal, permission: string): WorkloadIdentityPoolRecord {
    const project = projectOf(req, principal, permission);
    const pool = pools()[poolNameOf(project.projectNumber, req.params.pool!)];
    if (!pool) throw new GoogleApiError('NOT_FOUND', NOT_FOUND);
    return pool;
  }

  function providerOf(req: EmuRequest, principal: Principal, permission: string): WorkloadIdentityPoolProviderRecord {
    const project = projectOf(req, principal, permission);
    const provider = providers()[providerNameOf(poolNameOf(project.projectNumber, req.params.pool!), req.params.provider!)];
    if (!provider) throw new GoogleApiError('NOT_FOUND', NOT_FOUND);
    return provider;
  }

  function operation(req: EmuRequest, kind: Kind, view: PoolView): EmuResponse {
    const name = `${view.name as string}/operations/${kind === 'pool' ? 'bigar' : 'bipr'}${randomBytes(16).toString('hex')}`;
    const type = `type.googleapis.com/google.iam.${req.params.version}.${kind === 'pool' ? 'WorkloadIdentityPool' : 'WorkloadIdentityPoolProvider'}`;
    core.recordOperation(name, { response: { '@type': type, ...view } }, 0);
    return { body: operationView(core.state.operations[name]!) };
  }

  function operationView(op: { name: string; done: boolean; response?: unknown }): Record<string, unknown> {
    const type = (op.response as { '@type': string })['@type'];
    return { name: op.name, metadata: { '@type': `${type}OperationMetadata` }, done: true, response: op.response };
  }

  const auth = (req: EmuRequest) => core.requireCaller(req);

  const createPool = (req: EmuRequest): EmuResponse => {
    const project = projectOf(req, auth(req), 'iam.workloadIdentityPools.create');
    const poolId = req.query.get('workloadIdentityPoolId') ?? req.query.get('workload_identity_pool_id') ?? '';
    const idProblem = wifIdProblem('pool', poolId);
    if (idProblem) throw invalidArgument(idProblem);
    const body = parseBody(PoolBodySchema, req.body);
    const name = poolNameOf(project.projectNumber, poolId);
    // A soft-deleted pool keeps its id until it is purged.
    if (pools()[name]) throw new GoogleApiError('ALREADY_EXISTS', 'Requested entity already exists', { legacyReason: 'alreadyExists' });
    const now = core.nowIso();
    const pool: WorkloadIdentityPoolRecord = {
      name,
      projectId: project.projectId,
      projectNumber: project.projectNumber,
      poolId,
      ...(body.displayName ? { displayName: body.displayName } : {}),
      ...(body.description ? { description: body.description } : {}),
      disabled: body.disabled ?? false,
      createTime: now,
      updateTime: now,
    };
    pools()[name] = pool;
    core.markDirty();
    return operation(req, 'pool', poolView(pool));
  };

  const listPools = (req: EmuRequest): EmuResponse => {
    const project = projectOf(req, auth(req), 'iam.workloadIdentityPools.list');
    const showDeleted = (req.query.get('showDeleted') ?? '').toLowerCase() === 'true';
    const prefix = `projects/${project.projectNumber}/`;
    const all = Object.values(pools()).filter((p) => p.name.startsWith(prefix) && (showDeleted || !p.deleteTime));
    const { page, next } = pageOf(req, all, POOL_PAGE);
    return { body: { ...(page.length > 0 ? { workloadIdentityPools: page.map(poolView) } : {}), ...(next ? { nextPageToken: next } : {}) } };
  };

  const getPool = (req: EmuRequest): EmuResponse => ({ body: poolView(poolOf(req, auth(req), 'iam.workloadIdentityPools.get')) });

  const updatePool = (req: EmuRequest): EmuResponse => {
    const pool = poolOf(req, auth(req), 'iam.workloadIdentityPools.update');
    const mask = maskOf(req);
    const body = parseBody(PoolBodySchema, req.body);
    if (pool.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'Cannot update a deleted workload identity pool.');
    for (const path of mask) {
      if (path === 'displayName') pool.displayName = body.displayName ?? '';
      else if (path === 'description') pool.description = body.description ?? '';
      else if (path === 'disabled') pool.disabled = body.disabled ?? false;
      else throw invalidArgument(`Invalid update mask path: ${path}.`);
    }
    pool.updateTime = core.nowIso();
    core.markDirty();
    return operation(req, 'pool', poolView(pool));
  };

  const deletePool = (req: EmuRequest): EmuResponse => {
    const pool = poolOf(req, auth(req), 'iam.workloadIdentityPools.delete');
    pool.deleteTime ??= core.nowIso();
    core.markDirty();
    return operation(req, 'pool', poolView(pool));
  };

  const undeletePool = (req: EmuRequest): EmuResponse => {
    const pool = poolOf(req, auth(req), 'iam.workloadIdentityPools.undelete');
    if (!pool.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'The workload identity pool is not deleted.');
    delete pool.deleteTime;
    pool.updateTime = core.nowIso();
    core.markDirty();
    return operation(req, 'pool', poolView(pool));
  };

  function providerFields(body: z.output<typeof ProviderBodySchema>): void {
    if (body.aws !== undefined || body.saml !== undefined || body.x509 !== undefined) {
      throw invalidArgument('Only OIDC providers are emulated; AWS, SAML and X.509 providers are not.');
    }
  }

  const createProvider = (req: EmuRequest): EmuResponse => {
    const pool = poolOf(req, auth(req), 'iam.workloadIdentityPoolProviders.create');
    const providerId = req.query.get('workloadIdentityPoolProviderId') ?? req.query.get('workload_identity_pool_provider_id') ?? '';
    const idProblem = wifIdProblem('provider', providerId);
    if (idProblem) throw invalidArgument(idProblem);
    const body = parseBody(ProviderBodySchema, req.body);
    providerFields(body);
    if (!body.oidc?.issuerUri) throw invalidArgument('Exactly one of oidc, aws, saml or x509 must be set; oidc.issuer_uri is required.');
    if (pool.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'Cannot create a provider in a deleted workload identity pool.');
    const name = providerNameOf(pool.name, providerId);
    const now = core.nowIso();
    const provider: WorkloadIdentityPoolProviderRecord = {
      name,
      poolName: pool.name,
      providerId,
      ...(body.displayName ? { displayName: body.displayName } : {}),
      ...(body.description ? { description: body.description } : {}),
      disabled: body.disabled ?? false,
      attributeMapping: body.attributeMapping ?? {},
      ...(body.attributeCondition ? { attributeCondition: body.attributeCondition } : {}),
      oidc: { issuerUri: body.oidc.issuerUri, allowedAudiences: body.oidc.allowedAudiences ?? [], ...(body.oidc.jwksJson ? { jwksJson: body.oidc.jwksJson } : {}) },
      createTime: now,
      updateTime: now,
    };
    const problem = providerProblem(provider);
    if (problem) throw invalidArgument(problem);
    if (providers()[name]) throw new GoogleApiError('ALREADY_EXISTS', 'Requested entity already exists', { legacyReason: 'alreadyExists' });
    providers()[name] = provider;
    core.markDirty();
    return operation(req, 'provider', providerView(provider));
  };

  const listProviders = (req: EmuRequest): EmuResponse => {
    const pool = poolOf(req, auth(req), 'iam.workloadIdentityPoolProviders.list');
    const showDeleted = (req.query.get('showDeleted') ?? '').toLowerCase() === 'true';
    const all = Object.values(providers()).filter((p) => p.poolName === pool.name && (showDeleted || !p.deleteTime));
    const { page, next } = pageOf(req, all, PROVIDER_PAGE);
    return { body: { ...(page.length > 0 ? { workloadIdentityPoolProviders: page.map(providerView) } : {}), ...(next ? { nextPageToken: next } : {}) } };
  };

  const getProvider = (req: EmuRequest): EmuResponse => ({ body: providerView(providerOf(req, auth(req), 'iam.workloadIdentityPoolProviders.get')) });

  const updateProvider = (req: EmuRequest): EmuResponse => {
    const current = providerOf(req, auth(req), 'iam.workloadIdentityPoolProviders.update');
    const mask = maskOf(req);
    const body = parseBody(ProviderBodySchema, req.body);
    providerFields(body);
    if (current.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'Cannot update a deleted workload identity pool provider.');
    const next: WorkloadIdentityPoolProviderRecord = { ...current, oidc: { ...current.oidc } };
    for (const path of mask) {
      if (path === 'displayName') next.displayName = body.displayName ?? '';
      else if (path === 'description') next.description = body.description ?? '';
      else if (path === 'disabled') next.disabled = body.disabled ?? false;
      else if (path === 'attributeMapping') next.attributeMapping = body.attributeMapping ?? {};
      else if (path === 'attributeCondition') next.attributeCondition = body.attributeCondition ?? '';
      else if (path === 'oidc') next.oidc = { issuerUri: body.oidc?.issuerUri ?? '', allowedAudiences: body.oidc?.allowedAudiences ?? [], ...(body.oidc?.jwksJson ? { jwksJson: body.oidc.jwksJson } : {}) };
      else if (path === 'oidc.issuerUri') next.oidc.issuerUri = body.oidc?.issuerUri ?? '';
      else if (path === 'oidc.allowedAudiences') next.oidc.allowedAudiences = body.oidc?.allowedAudiences ?? [];
      else if (path === 'oidc.jwksJson') {
        if (body.oidc?.jwksJson) next.oidc.jwksJson = body.oidc.jwksJson;
        else delete next.oidc.jwksJson;
      } else throw invalidArgument(`Invalid update mask path: ${path}.`);
    }
    if (next.attributeCondition === '') delete next.attributeCondition;
    const problem = providerProblem(next);
    if (problem) throw invalidArgument(problem);
    next.updateTime = core.nowIso();
    providers()[next.name] = next;
    core.markDirty();
    return operation(req, 'provider', providerView(next));
  };

  const deleteProvider = (req: EmuRequest): EmuResponse => {
    const provider = providerOf(req, auth(req), 'iam.workloadIdentityPoolProviders.delete');
    provider.deleteTime ??= core.nowIso();
    core.markDirty();
    return operation(req, 'provider', providerView(provider));
  };

  const undeleteProvider = (req: EmuRequest): EmuResponse => {
    const provider = providerOf(req, auth(req), 'iam.workloadIdentityPoolProviders.undelete');
    if (!provider.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'The workload identity pool provider is not deleted.');
    if (pools()[provider.poolName]?.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', 'Cannot undelete a provider of a deleted workload identity pool.');
    delete provider.deleteTime;
    provider.updateTime = core.nowIso();
    core.markDirty();
    return operation(req, 'provider', providerView(provider));
  };

  const getOperation = (req: EmuRequest): EmuResponse => {
    const project = projectOf(req, auth(req), req.params.provider ? 'iam.workloadIdentityPoolProviders.get' : 'iam.workloadIdentityPools.get');
    const resource = poolNameOf(project.projectNumber, req.params.pool!) + (req.params.provider ? `/providers/${req.params.provider}` : '');
    const op = core.state.operations[`${resource}/operations/${req.params.op}`];
    if (!op) throw new GoogleApiError('NOT_FOUND', NOT_FOUND);
    return { body: operationView(op) };
  };

  const route = (method: string, pattern: string, handler: (req: EmuRequest) => EmuResponse): RouteDef => ({ method, pattern: new RegExp(`${pattern}$`), surface: 'iam', handler });
  return [
    route('GET', `${POOL}/operations/(?<op>[^/]+)`, getOperation),
    route('GET', `${PROVIDER}/operations/(?<op>[^/]+)`, getOperation),
    route('POST', PARENT, createPool),
    route('GET', PARENT, listPools),
    route('GET', POOL, getPool),
    route('PATCH', POOL, updatePool),
    route('DELETE', POOL, deletePool),
    route('POST', `${POOL}${COLON}undelete`, undeletePool),
    route('POST', `${POOL}/providers`, createProvider),
    route('GET', `${POOL}/providers`, listProviders),
    route('GET', PROVIDER, getProvider),
    route('PATCH', PROVIDER, updateProvider),
    route('DELETE', PROVIDER, deleteProvider),
    route('POST', `${PROVIDER}${COLON}undelete`, undeleteProvider),
  ];
}
