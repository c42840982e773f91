// API Keys API v2 (apikeys.googleapis.com): keys under projects/<number>/locations/global,
// long-running operations for every mutation, soft delete with a 30-day undelete window.

import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, Principal, RouteDef } from '../core/contract';
import { newKeyEtag, type EmulatorCore } from '../core/core';
import { GoogleApiError, invalidArgument, operationError, permissionDenied } from '../core/errors';
import { KeyIdSchema, RestrictionsSchema, formatIssuePath, formatIssues, type Restrictions } from '../core/fixture';
import { newAuthKeyString, newStandardKeyString } from '../core/identity';
import type { ApiKeyRecord } from '../core/state';

const KEY_TYPE = 'type.googleapis.com/google.api.apikeys.v2.Key';
const UNDELETE_WINDOW_MS = 30 * 86_400_000;
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COLON = '(?::|%3A)';
const PARENT = '^/v2/projects/(?<project>[^/]+)/locations/(?<location>[^/]+)/keys';
const KEY = `${PARENT}/(?<keyId>[^/:%]+)`;

/** The Key JSON Google returns; the key string only where Google includes it. */
export function keyView(key: ApiKeyRecord, withKeyString = false): Record<string, unknown> {
  return {
    name: key.name,
    uid: key.uid,
    ...(key.displayName ? { displayName: key.displayName } : {}),
    ...(withKeyString ? { keyString: key.keyString } : {}),
    createTime: key.createTime,
    updateTime: key.updateTime,
    ...(key.deleteTime ? { deleteTime: key.deleteTime } : {}),
    ...(Object.keys(key.annotations).length > 0 ? { annotations: key.annotations } : {}),
    ...(key.restrictions ? { restrictions: key.restrictions } : {}),
    etag: key.etag,
    ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
  };
}

function parseRestrictions(raw: unknown, field: string): Restrictions | undefined {
  if (raw === undefined || raw === null) return undefined;
  const result = RestrictionsSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const at = issue.path.length > 0 ? `${field}.${formatIssuePath(issue.path)}` : field;
    throw invalidArgument(`Invalid value at '${at}': ${formatIssues(result.error)[0]!.replace(/^[^:]+: /, '')}`);
  }
  const restrictions = result.data;
  // Google stores Android fingerprints without colons.
  restrictions.androidKeyRestrictions?.allowedApplications.forEach((app) => {
    app.sha1Fingerprint = app.sha1Fingerprint.replace(/:/g, '');
  });
  const isEmpty = Object.values(restrictions).every((v) => v === undefined || (Array.isArray(v) && v.length === 0));
  return isEmpty ? undefined : restrictions;
}

function parseAnnotations(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
    throw invalidArgument("Invalid value at 'key.annotations': expected a map of strings.");
  }
  return { ...(raw as Record<string, string>) };
}

function parseDisplayName(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalidArgument("Invalid value at 'key.display_name': expected a string.");
  if (raw.length > 63) throw invalidArgument('The display name must be at most 63 characters.', { reason: 'APIKEYS_INVALID_DISPLAY_NAME', domain: 'apikeys.googleapis.com' });
  return raw;
}

export function apiKeysRoutes(core: EmulatorCore): RouteDef[] {
  const operationName = (projectNumber: string) => `operations/akmf.p7-${projectNumber}-${randomUUID()}`;

  function operationResponse(name: string, key: ApiKeyRecord | undefined, error?: { code: number; message: string }): EmuResponse {
    const response = key ? { '@type': KEY_TYPE, ...keyView(key, true) } : undefined;
    core.recordOperation(name, { ...(response ? { response } : {}), ...(error ? { error } : {}) });
    return { body: operationView(core.state.operations[name]!) };
  }

  function operationView(op: { name: string; done: boolean; response?: unknown; error?: unknown }): Record<string, unknown> {
    if (!op.done) return { name: op.name };
    return { name: op.name, done: true, ...(op.error ? { error: op.error } : { response: op.response }) };
  }

  /** Purges keys soft-deleted more than 30 days ago (emulator clock). */
  function purgeExpired(): void {
    const cutoff = core.now().getTime() - UNDELETE_WINDOW_MS;
    for (const key of core.softDeletedKeys()) {
      if (Date.parse(key.deleteTime!) < cutoff) core.removeKey(key.name);
    }
  }

  function project(req: EmuRequest, principal: Principal, permission: string) {
    const location = req.params.location!;
    const resolved = core.resolveProject(req.params.project!);
    const resource = `//apikeys.googleapis.com/projects/${resolved?.projectNumber ?? req.params.project}/locations/${location}`;
    // Google answers 403 for projects the caller cannot see, whether or not they exist.
    if (!resolved) throw permissionDenied(permission, resource);
    core.requirePermission(principal, resolved.projectId, permission, req.params.keyId ? `${resource}/keys/${req.params.keyId}` : resource);
    if (location !== 'global') throw invalidArgument(`Location ${location} is not supported; API keys live in location global.`);
    return resolved;
  }

  function findKey(req: EmuRequest, principal: Principal, permission: string): ApiKeyRecord {
    const p = project(req, principal, permission);
    purgeExpired();
    const key = core.state.keys[`projects/${p.projectNumber}/locations/global/keys/${req.params.keyId}`];
    if (!key) throw new GoogleApiError('NOT_FOUND', 'Requested entity was not found.');
    return key;
  }

  function checkEtag(key: ApiKeyRecord, etag: unknown): void {
    if (etag === undefined || etag === null || etag === '') return;
    if (etag !== key.etag) {
      throw new GoogleApiError('ABORTED', `The etag ${JSON.stringify(etag)} does not match the current etag of key ${key.name}.`);
    }
  }

  const auth = (req: EmuRequest) => core.requireCaller(req);

  const createKey = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    const p = project(req, principal, 'apikeys.keys.create');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('Invalid JSON payload received. Expected a Key object.');
    const uid = randomUUID();
    const keyIdParam = req.query.get('keyId');
    let keyId: string = uid;
    if (keyIdParam !== null && keyIdParam !== '') {
      if (!KeyIdSchema.safeParse(keyIdParam).success || UUID_LIKE.test(keyIdParam)) {
        throw invalidArgument(`Invalid key id '${keyIdParam}'. It must match [a-z]([a-z0-9-]{0,61}[a-z0-9])? and must not be a UUID.`, {
          reason: 'APIKEYS_INVALID_KEY_ID',
          domain: 'apikeys.googleapis.com',
        });
      }
      keyId = keyIdParam;
    }
    const displayName = parseDisplayName(body.displayName);
    const restrictions = parseRestrictions(body.restrictions, 'key.restrictions');
    const annotations = parseAnnotations(body.annotations);
    let serviceAccountEmail: string | undefined;
    if (typeof body.serviceAccountEmail === 'string' && body.serviceAccountEmail !== '') {
      const account = core.liveServiceAccount(body.serviceAccountEmail);
      if (!account) throw invalidArgument(`Service account ${body.serviceAccountEmail} does not exist.`);
      serviceAccountEmail = account.email;
    }
    const name = `projects/${p.projectNumber}/locations/global/keys/${keyId}`;
    const opName = operationName(p.projectNumber);
    purgeExpired();
    // A retained (soft-deleted) key keeps its id: Google refuses the re-creation in the operation.
    if (core.state.keys[name]) return operationResponse(opName, undefined, operationError('ALREADY_EXISTS', 'A key with this id already exists.'));
    const now = core.nowIso();
    const key: ApiKeyRecord = {
      name,
      uid,
      keyId,
      projectId: p.projectId,
      projectNumber: p.projectNumber,
      ...(displayName ? { displayName } : {}),
      keyString: serviceAccountEmail ? newAuthKeyString() : newStandardKeyString(),
      createTime: now,
      updateTime: now,
      annotations,
      ...(restrictions ? { restrictions } : {}),
      etag: newKeyEtag(),
      ...(serviceAccountEmail ? { serviceAccountEmail } : {}),
    };
    core.putKey(key);
    return operationResponse(opName, key);
  };

  const listKeys = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    const p = project(req, principal, 'apikeys.keys.list');
    purgeExpired();
    const max = core.fixture.apiKeys.maxPageSize;
    const requested = Number(req.query.get('pageSize') ?? '0');
    if (!Number.isInteger(requested) || requested < 0) throw invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), "${req.query.get('pageSize')}"`);
    const pageSize = requested === 0 ? max : Math.min(requested, max);
    const showDeleted = (req.query.get('showDeleted') ?? '').toLowerCase() === 'true';
    const filter = req.query.get('filter') ?? '';
    const stateFilter = /state\s*[:=]\s*(ACTIVE|DELETED)/i.exec(filter)?.[1]?.toUpperCase();
    let offset = 0;
    const token = req.query.get('pageToken');
    if (token) {
      const decoded = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!decoded) throw invalidArgument('Invalid page token.');
      offset = Number(decoded[1]);
    }
    const prefix = `projects/${p.projectNumber}/`;
    const keys: ApiKeyRecord[] = [];
    for (const key of Object.values(core.state.keys)) {
      if (!key.name.startsWith(prefix)) continue;
      const deleted = key.deleteTime !== undefined;
      if (stateFilter === 'DELETED' ? !deleted : stateFilter === 'ACTIVE' ? deleted : deleted && !showDeleted) continue;
      keys.push(key);
    }
    const page = keys.slice(offset, offset + pageSize);
    const next = offset + pageSize < keys.length ? Buffer.from(`o:${offset + pageSize}`).toString('base64url') : undefined;
    return { body: { ...(page.length > 0 ? { keys: page.map((k) => keyView(k)) } : {}), ...(next ? { nextPageToken: next } : {}) } };
  };

  const getKey = (req: EmuRequest): EmuResponse => ({ body: keyView(findKey(req, auth(req), 'apikeys.keys.get')) });

  const getKeyString = (req: EmuRequest): EmuResponse => ({ body: { keyString: findKey(req, auth(req), 'apikeys.keys.getKeyString').keyString } });

  const updateKey = (req: EmuRequest): EmuResponse => {
    const key = findKey(req, auth(req), 'apikeys.keys.update');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('Invalid JSON payload received. Expected a Key object.');
    if (key.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', `Key ${key.name} is deleted; undelete it before updating it.`);
    checkEtag(key, body.etag);
    const maskParam = req.query.get('updateMask') ?? req.query.get('update_mask');
    let fields: Set<string>;
    if (maskParam === null || maskParam === '') {
      // No mask: the fields present on the wire; an empty map or message is not "present" in proto3.
      fields = new Set();
      if (body.displayName !== undefined && body.displayName !== '') fields.add('displayName');
      if (body.restrictions !== undefined && body.restrictions !== null && Object.keys(body.restrictions as object).length > 0) fields.add('restrictions');
      if (body.annotations !== undefined && body.annotations !== null && Object.keys(body.annotations as object).length > 0) fields.add('annotations');
    } else if (maskParam.trim() === '*') {
      fields = new Set(['displayName', 'restrictions', 'annotations']);
    } else {
      fields = new Set();
      const immutable: string[] = [];
      for (const raw of maskParam.split(',').map((s) => s.trim()).filter(Boolean)) {
        const camel = raw.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
        const top = camel.split('.')[0]!;
        if (top === 'displayName' || top === 'restrictions' || top === 'annotations') fields.add(top);
        else if (['serviceAccountEmail', 'keyString', 'name', 'uid', 'createTime', 'updateTime', 'deleteTime', 'etag'].includes(top)) immutable.push(raw);
        else throw invalidArgument(`Invalid update mask path: ${raw}`);
      }
      if (immutable.length > 0) {
        throw invalidArgument(`Update mask contains immutable field(s): ${immutable.join(', ')}.`, {
          reason: 'APIKEYS_UPDATE_MASK_CONTAINS_IMMUTABLE_FIELDS',
          domain: 'apikeys.googleapis.com',
        });
      }
    }
    const next: ApiKeyRecord = { ...key };
    if (fields.has('displayName')) {
      const displayName = parseDisplayName(body.displayName);
      if (displayName) next.displayName = displayName;
      else delete next.displayName;
    }
    if (fields.has('restrictions')) {
      const restrictions = parseRestrictions(body.restrictions, 'key.restrictions');
      if (restrictions) next.restrictions = restrictions;
      else delete next.restrictions;
    }
    if (fields.has('annotations')) next.annotations = parseAnnotations(body.annotations);
    next.updateTime = core.nowIso();
    next.etag = newKeyEtag();
    core.putKey(next);
    return operationResponse(operationName(key.projectNumber), next);
  };

  const deleteKey = (req: EmuRequest): EmuResponse => {
    const key = findKey(req, auth(req), 'apikeys.keys.delete');
    checkEtag(key, req.query.get('etag'));
    if (!key.deleteTime) {
      const now = core.nowIso();
      core.putKey({ ...key, deleteTime: now, updateTime: now, etag: newKeyEtag() });
    }
    return operationResponse(operationName(key.projectNumber), core.state.keys[key.name]);
  };

  const undeleteKey = (req: EmuRequest): EmuResponse => {
    const key = findKey(req, auth(req), 'apikeys.keys.undelete');
    if (!key.deleteTime) throw new GoogleApiError('FAILED_PRECONDITION', `Key ${key.name} is not deleted.`);
    const restored: ApiKeyRecord = { ...key, updateTime: core.nowIso(), etag: newKeyEtag() };
    delete restored.deleteTime;
    core.putKey(restored);
    return operationResponse(operationName(key.projectNumber), restored);
  };

  const lookupKey = (req: EmuRequest): EmuResponse => {
    const principal = auth(req);
    const keyString = req.query.get('keyString') ?? req.query.get('key_string');
    if (!keyString) throw invalidArgument('Missing required field key_string.');
    purgeExpired();
    const key = core.keyByString(keyString);
    if (!key) throw new GoogleApiError('NOT_FOUND', 'Requested entity was not found.');
    core.requirePermission(principal, key.projectId, 'apikeys.keys.lookup', `//apikeys.googleapis.com/projects/${key.projectNumber}`);
    return { body: { parent: `projects/${key.projectNumber}/locations/global`, name: key.name } };
  };

  const getOperation = (req: EmuRequest): EmuResponse => {
    auth(req);
    const op = core.state.operations[`operations/${req.params.op}`];
    if (!op) throw new GoogleApiError('NOT_FOUND', 'Requested entity was not found.');
    if (!op.done) {
      op.pendingPolls -= 1;
      if (op.pendingPolls <= 0) op.done = true;
      core.markDirty();
      return { body: { name: op.name } };
    }
    return { body: operationView(op) };
  };

  return [
    { method: 'GET', pattern: /^\/v2\/keys(?::|%3A)lookupKey$/, surface: 'apikeys', handler: lookupKey },
    { method: 'GET', pattern: /^\/v2\/operations\/(?<op>[^/]+)$/, surface: 'apikeys', handler: getOperation },
    { method: 'POST', pattern: new RegExp(`${PARENT}$`), surface: 'apikeys', handler: createKey },
    { method: 'GET', pattern: new RegExp(`${PARENT}$`), surface: 'apikeys', handler: listKeys },
    { method: 'GET', pattern: new RegExp(`${KEY}/keyString$`), surface: 'apikeys', handler: getKeyString },
    { method: 'GET', pattern: new RegExp(`${KEY}$`), surface: 'apikeys', handler: getKey },
    { method: 'PATCH', pattern: new RegExp(`${KEY}$`), surface: 'apikeys', handler: updateKey },
    { method: 'DELETE', pattern: new RegExp(`${KEY}$`), surface: 'apikeys', handler: deleteKey },
    { method: 'POST', pattern: new RegExp(`${KEY}${COLON}undelete$`), surface: 'apikeys', handler: undeleteKey },
  ];
}
