// Cloud Storage JSON API, the part a route document needs: buckets (get, insert), objects (get
// metadata or media, list, media and multipart upload, patch, delete) with generation and
// metageneration preconditions. Errors use Storage's own envelope (legacy `errors[]`, no `status`).

import { createHash } from 'node:crypto';
import type { EmuRequest, EmuResponse, Principal, RouteDef } from '../core/contract';
import type { BucketFixture } from '../model/fixture';
import { policyMembersOf } from './generative-common';
import type { GenerativeContext, GenerativeState, StoredBucket, StoredObject } from './generative-context';

const READ_ROLES = [
  'roles/storage.objectViewer', 'roles/storage.objectUser', 'roles/storage.objectAdmin', 'roles/storage.admin', 'roles/viewer', 'roles/editor', 'roles/owner',
] as const;
const WRITE_ROLES = ['roles/storage.objectCreator', 'roles/storage.objectUser', 'roles/storage.objectAdmin', 'roles/storage.admin', 'roles/editor', 'roles/owner'] as const;
const BUCKET_ADMIN_ROLES = ['roles/storage.admin', 'roles/editor', 'roles/owner'] as const;

/** A Storage failure; rendered in Storage's legacy error shape. */
class StorageError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
  toResponse(): EmuResponse {
    return { status: this.code, body: { error: { code: this.code, message: this.message, errors: [{ message: this.message, domain: 'global', reason: this.reason, ...this.extra }] } } };
  }
}

const preconditionFailed = () =>
  new StorageError(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet', { locationType: 'header', location: 'If-Match' });

/** Adds the fixture's buckets to a fresh state. */
export function seedBuckets(state: GenerativeState, buckets: BucketFixture, now: Date): void {
  for (const bucket of buckets) {
    state.buckets[bucket.name] ??= { name: bucket.name, project: bucket.project, timeCreated: now.toISOString(), lastGeneration: '0', objects: {} };
  }
}

/** The Cloud Storage routes. */
export function storageRoutes(ctx: GenerativeContext): RouteDef[] {
  const route = (method: string, pattern: RegExp, handler: (req: EmuRequest) => EmuResponse, mutates?: boolean): RouteDef => ({
    method,
    pattern,
    surface: 'storage',
    handler: (req) => {
      try {
        return handler(req);
      } catch (err) {
        if (err instanceof StorageError) return err.toResponse();
        throw err;
      }
    },
    ...(mutates === undefined ? {} : { mutates }),
  });
  return [
    route('POST', /^\/storage\/v1\/b$/, (req) => insertBucket(ctx, req)),
    route('GET', /^\/storage\/v1\/b\/(?<bucket>[^/]+)$/, (req) => getBucket(ctx, req)),
    route('GET', /^\/storage\/v1\/b\/(?<bucket>[^/]+)\/o$/, (req) => listObjects(ctx, req)),
    route('GET', /^\/(?:download\/)?storage\/v1\/b\/(?<bucket>[^/]+)\/o\/(?<object>.+)$/, (req) => getObject(ctx, req)),
    route('PATCH', /^\/storage\/v1\/b\/(?<bucket>[^/]+)\/o\/(?<object>.+)$/, (req) => patchObject(ctx, req)),
    route('DELETE', /^\/storage\/v1\/b\/(?<bucket>[^/]+)\/o\/(?<object>.+)$/, (req) => deleteObject(ctx, req)),
    route('POST', /^\/upload\/storage\/v1\/b\/(?<bucket>[^/]+)\/o$/, (req) => uploadObject(ctx, req)),
  ];
}

function authorize(ctx: GenerativeContext, req: EmuRequest, project: string, roles: readonly string[], permission: string, what: string): Principal {
  const authorization = req.headers.authorization;
  if (!authorization) {
    throw new StorageError(401, `Anonymous caller does not have ${permission} access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`, 'required', {
      locationType: 'header',
      location: 'Authorization',
    });
  }
  const principal = ctx.resolveBearer(authorization);
  if (!principal) throw new StorageError(401, 'Invalid Credentials', 'authError', { locationType: 'header', location: 'Authorization' });
  if (!ctx.hasProjectRole(project, policyMembersOf(principal), roles).granted) {
    const who = principal.kind === 'apiKey' ? principal.keyName : principal.kind === 'federated' ? principal.member : principal.email;
    throw new StorageError(403, `${who} does not have ${permission} access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`, 'forbidden');
  }
  return principal;
}

function bucketOf(ctx: GenerativeContext, name: string): StoredBucket {
  const bucket = ctx.state.buckets[name];
  if (!bucket) throw new StorageError(404, 'The specified bucket does not exist.', 'notFound');
  return bucket;
}

function insertBucket(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const projectParam = req.query.get('project');
  const name = (req.body as { name?: unknown } | undefined)?.name;
  if (!projectParam) throw new StorageError(400, 'Required parameter: project', 'required');
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(name)) throw new StorageError(400, 'Invalid bucket name', 'invalid');
  const project = ctx.resolveProject(projectParam);
  if (!project) throw new StorageError(400, `Unknown project id: ${projectParam}`, 'invalid');
  authorize(ctx, req, project.projectId, BUCKET_ADMIN_ROLES, 'storage.buckets.create', 'project');
  if (ctx.state.buckets[name]) {
    throw new StorageError(409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
  }
  const bucket: StoredBucket = { name, project: project.projectId, timeCreated: ctx.now().toISOString(), lastGeneration: '0', objects: {} };
  ctx.state.buckets[name] = bucket;
  ctx.markDirty();
  return { body: bucketResource(bucket, project.projectNumber) };
}

function getBucket(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, READ_ROLES, 'storage.buckets.get', 'bucket');
  return { body: bucketResource(bucket, ctx.resolveProject(bucket.project)?.projectNumber ?? '0') };
}

function bucketResource(bucket: StoredBucket, projectNumber: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    id: bucket.name,
    name: bucket.name,
    projectNumber,
    metageneration: '1',
    location: 'US',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    timeCreated: bucket.timeCreated,
    updated: bucket.timeCreated,
    locationType: 'multi-region',
  };
}

function listObjects(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, READ_ROLES, 'storage.objects.list', 'bucket');
  const prefix = req.query.get('prefix') ?? '';
  const max = Math.min(Math.max(Number(req.query.get('maxResults') ?? '1000') || 1000, 1), 1000);
  const after = req.query.get('pageToken') ? Buffer.from(req.query.get('pageToken')!, 'base64url').toString() : '';
  const names = Object.keys(bucket.objects)
    .filter((n) => n.startsWith(prefix) && n > after)
    .sort();
  const page = names.slice(0, max);
  const body: Record<string, unknown> = { kind: 'storage#objects' };
  if (page.length > 0) body.items = page.map((n) => objectResource(req, bucket.name, bucket.objects[n]!));
  if (names.length > max) body.nextPageToken = Buffer.from(page[page.length - 1]!).toString('base64url');
  return { body };
}

/** Applies `ifGenerationMatch` & co. to the object as it is now (undefined: absent). */
function checkPreconditions(req: EmuRequest, current: StoredObject | undefined): void {
  const q = req.query;
  const ifGen = q.get('ifGenerationMatch');
  const ifGenNot = q.get('ifGenerationNotMatch');
  const ifMeta = q.get('ifMetagenerationMatch');
  const ifMetaNot = q.get('ifMetagenerationNotMatch');
  for (const value of [ifGen, ifGenNot, ifMeta, ifMetaNot]) {
    if (value !== null && !/^\d+$/.test(value)) throw new StorageError(400, `Invalid argument: precondition value "${value}" is not a number.`, 'invalid');
  }
  const generation = current?.generation ?? '0';
  if (ifGen !== null && ifGen !== generation) throw preconditionFailed();
  if (ifGenNot !== null && ifGenNot === generation) throw new StorageError(304, 'Not Modified', 'notModified');
  if (ifMeta !== null && (!current || ifMeta !== current.metageneration)) throw preconditionFailed();
  if (ifMetaNot !== null && current && ifMetaNot === current.metageneration) throw new StorageError(304, 'Not Modified', 'notModified');
}

function objectOf(bucket: StoredBucket, name: string, req: EmuRequest): StoredObject {
  const object = bucket.objects[name];
  const generation = req.query.get('generation');
  if (!object || (generation !== null && generation !== object.generation)) {
    throw new StorageError(404, `No such object: ${bucket.name}/${name}`, 'notFound');
  }
  return object;
}

function getObject(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, READ_ROLES, 'storage.objects.get', 'object');
  const object = objectOf(bucket, req.params.object!, req);
  checkPreconditions(req, object);
  if (req.query.get('alt') === 'media') {
    return {
      status: 200,
      raw: Buffer.from(object.content, 'base64'),
      headers: {
        'content-type': object.contentType,
        'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
        'x-goog-generation': object.generation,
        'x-goog-metageneration': object.metageneration,
        'x-goog-stored-content-length': object.size,
        'x-goog-stored-content-encoding': 'identity',
        etag: etagOf(object),
      },
    };
  }
  return { body: objectResource(req, bucket.name, object) };
}

function patchObject(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, WRITE_ROLES, 'storage.objects.update', 'object');
  const object = objectOf(bucket, req.params.object!, req);
  checkPreconditions(req, object);
  const patch = (req.body ?? {}) as { contentType?: unknown; metadata?: unknown };
  if (typeof patch.contentType === 'string') object.contentType = patch.contentType;
  if (patch.metadata && typeof patch.metadata === 'object') {
    const merged = { ...object.metadata };
    for (const [k, v] of Object.entries(patch.metadata as Record<string, unknown>)) {
      if (v === null) delete merged[k];
      else merged[k] = String(v);
    }
    object.metadata = merged;
  }
  object.metageneration = String(Number(object.metageneration) + 1);
  object.updated = ctx.now().toISOString();
  ctx.markDirty();
  return { body: objectResource(req, bucket.name, object) };
}

function deleteObject(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, WRITE_ROLES, 'storage.objects.delete', 'object');
  const object = objectOf(bucket, req.params.object!, req);
  checkPreconditions(req, object);
  delete bucket.objects[object.name];
  ctx.markDirty();
  return { status: 204, raw: '' };
}

function uploadObject(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const bucket = bucketOf(ctx, req.params.bucket!);
  authorize(ctx, req, bucket.project, WRITE_ROLES, 'storage.objects.create', 'bucket');
  const uploadType = req.query.get('uploadType');
  let name = req.query.get('name') ?? undefined;
  let contentType = headerOf(req, 'content-type') ?? 'application/octet-stream';
  let metadata: Record<string, string> | undefined;
  let content: Buffer;
  if (uploadType === 'media') {
    content = req.rawBody;
  } else if (uploadType === 'multipart') {
    const parts = parseMultipart(req);
    const resource = JSON.parse(parts[0]!.body.toString('utf8') || '{}') as { name?: unknown; contentType?: unknown; metadata?: unknown };
    if (typeof resource.name === 'string') name = resource.name;
    contentType = typeof resource.contentType === 'string' ? resource.contentType : (parts[1]!.contentType ?? 'application/octet-stream');
    if (resource.metadata && typeof resource.metadata === 'object') {
      metadata = Object.fromEntries(Object.entries(resource.metadata as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    }
    content = parts[1]!.body;
  } else {
    throw new StorageError(400, `Upload type "${uploadType ?? ''}" is not supported by this emulator; use media or multipart.`, 'invalid');
  }
  if (!name) throw new StorageError(400, 'Required', 'required', { locationType: 'parameter', location: 'name' });
  const current = bucket.objects[name];
  checkPreconditions(req, current);
  const now = ctx.now();
  // Google's generations are microsecond timestamps; they must also grow when the clock does not.
  const generation = String(Math.max(now.getTime() * 1000, Number(bucket.lastGeneration) + 1));
  bucket.lastGeneration = generation;
  const object: StoredObject = {
    name,
    generation,
    metageneration: '1',
    contentType,
    content: content.toString('base64'),
    size: String(content.length),
    md5Hash: createHash('md5').update(content).digest('base64'),
    crc32c: crc32cBase64(content),
    ...(metadata ? { metadata } : {}),
    timeCreated: now.toISOString(),
    updated: now.toISOString(),
  };
  bucket.objects[name] = object;
  ctx.markDirty();
  return { body: objectResource(req, bucket.name, object) };
}

function headerOf(req: EmuRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseMultipart(req: EmuRequest): { contentType?: string; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(headerOf(req, 'content-type') ?? '')?.[1];
  if (!boundary) throw new StorageError(400, 'Multipart upload without a boundary.', 'invalid');
  const body = req.rawBody;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { contentType?: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    const sep = headerEnd >= 0 ? 4 : 2;
    const split = headerEnd >= 0 ? headerEnd : part.indexOf('\n\n');
    if (split < 0) throw new StorageError(400, 'Malformed multipart body.', 'invalid');
    const headers = part.subarray(0, split).toString('utf8');
    let content = part.subarray(split + sep);
    // The CRLF before the next delimiter belongs to the delimiter.
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    else if (content.subarray(-1).toString() === '\n') content = content.subarray(0, -1);
    const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
    parts.push({ ...(contentType ? { contentType } : {}), body: content });
    at = next;
  }
  if (parts.length < 2) throw new StorageError(400, 'A multipart upload needs a metadata part and a media part.', 'invalid');
  return parts;
}

function etagOf(object: StoredObject): string {
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString('base64');
}

function objectResource(req: EmuRequest, bucket: string, object: StoredObject): Record<string, unknown> {
  const base = `http://${headerOf(req, 'host') ?? '127.0.0.1'}`;
  const encoded = encodeURIComponent(object.name);
  return {
    kind: 'storage#object',
    id: `${bucket}/${object.name}/${object.generation}`,
    selfLink: `${base}/storage/v1/b/${bucket}/o/${encoded}`,
    mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket,
    generation: object.generation,
    metageneration: object.metageneration,
    contentType: object.contentType,
    storageClass: 'STANDARD',
    size: object.size,
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
    etag: etagOf(object),
    timeCreated: object.timeCreated,
    updated: object.updated,
    timeStorageClassUpdated: object.timeCreated,
    ...(object.metadata ? { metadata: object.metadata } : {}),
  };
}

const CRC32C_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC32C (Castagnoli) as Storage reports it: big-endian, base64. */
export function crc32cBase64(data: Buffer): string {
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ -1) >>> 0);
  return out.toString('base64');
}
