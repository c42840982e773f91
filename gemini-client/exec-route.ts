// The route as `keyless exec` sees it: read with the client's cache rules (route-cache.ts: TTL, read
// timeout, last route seen, generations), checked by the full route rules (route-rules.ts), and
// kept on disk for the next run (route-disk-cache.ts). Never throws: a store that cannot be read
// leaves the last route seen, else none (the key). Cloud Storage's client is loaded only for a
// gs:// store, so a file:// run starts without it.

import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Route } from '../contracts/route';
import { routeDocumentNames, type ExecOptions } from './exec-environment';
import { RouteCache, type RouteSource, type RouteView } from './route-cache-core';
import { defaultRouteCacheFile, readRouteDiskEntry, writeRouteDiskEntry } from './route-disk-cache';
import { MAX_ROUTE_BYTES, parseRouteDocument, RouteRefused, type RouteDocumentContext } from '../contracts/route-rules';

export interface ExecRouteInput {
  options: ExecOptions;
  env: Record<string, string | undefined>;
  now?: () => number;
}

/** The route this run decides with. */
export async function execRouteView({ options, env, now = Date.now }: ExecRouteInput): Promise<RouteView> {
  const context = (): RouteDocumentContext => ({
    pipeline: options.pipeline,
    nowMs: now(),
    // The reader's own project is what a route at this path must name.
    expect: { ...(options.project ? { project: options.project } : {}), ...(options.expectServiceAccount ? { serviceAccount: options.expectServiceAccount } : {}) },
  });
  // Loading Cloud Storage's client is local work, not the store's slowness: done before the timed read.
  const storage = options.store.scheme === 'gs' ? await routeStorage(env).catch((err: unknown) => err as Error) : undefined;
  const source = storage === undefined ? fileSource(options, context) : gcsSource(options, storage, context);
  const file = options.cacheFile ?? defaultRouteCacheFile(options.storeText, options.pipeline, options.project, env);
  const key = { store: options.storeText, pipeline: options.pipeline, project: options.project };
  const entry = readRouteDiskEntry(file, key, (doc) => parseRouteDocument(doc, context()));
  const cache = new RouteCache({
    pipeline: options.pipeline,
    source,
    ttlMs: options.ttlSeconds * 1000,
    readTimeoutMs: Math.round(options.readTimeoutSeconds * 1000),
    now,
    ...(entry ? { seed: { route: entry.route, ageMs: now() - entry.readAtMs } } : {}),
    onRead: (route) => writeRouteDiskEntry(file, key, { route, readAtMs: now() }),
  });
  return cache.current();
}

/** Turns a read's failure into one line without anything the document or the server said about its content. */
function refused(location: string, err: unknown): Error {
  if (err instanceof RouteRefused) return new Error(`${location}: ${err.message}`);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in STRERROR) return new Error(`${location} could not be read: ${STRERROR[code]}`);
  if (typeof code === 'number') return new Error(`${location} could not be read: HTTP ${code} (${HTTP_NAMES[code] ?? 'GoogleAPICallError'})`);
  return new Error(`${location} could not be read: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err).slice(0, 200)}`);
}

function fileSource(options: ExecOptions, context: () => RouteDocumentContext): RouteSource {
  const { dir, url } = options.store as Extract<ExecOptions['store'], { scheme: 'file' }>;
  const names = routeDocumentNames(options.pipeline, options.project);
  const location = `${url}/${names[0]}`;
  return {
    location,
    async read(): Promise<Route | undefined> {
      for (const name of names) {
        let bytes: Buffer;
        try {
          bytes = await readAtMost(resolve(join(dir, ...name.split('/'))), MAX_ROUTE_BYTES + 1);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw refused(location, err);
        }
        try {
          return parseRouteDocument(bytes, context());
        } catch (err) {
          throw refused(location, err);
        }
      }
      return undefined;
    },
  };
}

type RouteStorage = Awaited<ReturnType<typeof routeStorage>>;

function gcsSource(options: ExecOptions, storage: RouteStorage | Error, context: () => RouteDocumentContext): RouteSource {
  const { bucket, prefix } = options.store as Extract<ExecOptions['store'], { scheme: 'gs' }>;
  const objects = routeDocumentNames(options.pipeline, options.project).map((name) => (prefix ? `${prefix}/${name}` : name));
  const location = `gs://${bucket}/${objects[0]}`;
  return {
    location,
    async read(): Promise<Route | undefined> {
      if (storage instanceof Error) throw refused(location, storage);
      for (const name of objects) {
        const file = storage.bucket(bucket).file(name);
        for (let attempt = 1; ; attempt++) {
          let metadata: { size?: string | number; generation?: string | number };
          try {
            [metadata] = await file.getMetadata();
          } catch (err) {
            if (statusOf(err) === 404) break;
            throw refused(location, err);
          }
          if (Number(metadata.size ?? 0) > MAX_ROUTE_BYTES) throw refused(location, new RouteRefused('(document)', `is larger than ${MAX_ROUTE_BYTES / 1024} KiB`));
          let bytes: Buffer;
          try {
            // Download exactly the generation whose metadata was read.
            [bytes] = await storage.bucket(bucket).file(name, { generation: String(metadata.generation) }).download();
          } catch (err) {
            // Overwritten between the two requests: read the new generation.
            if (statusOf(err) === 404 && attempt < 3) continue;
            throw refused(location, err);
          }
          try {
            return parseRouteDocument(bytes, context());
          } catch (err) {
            throw refused(location, err);
          }
        }
      }
      return undefined;
    },
  };
}

/** Cloud Storage with the runner's ADC, or the identity of KEYLESS_CREDENTIAL_CONFIG (the job reads its route as it will call Vertex). */
async function routeStorage(env: Record<string, string | undefined>) {
  const [{ createStorage }, { endpointConfigFromEnv, CLOUD_PLATFORM }, { GoogleAuth }, { emulatorCredentials }] = await Promise.all([
    import('../google/storage'),
    import('../google/endpoints'),
    import('google-auth-library'),
    import('../google/emulator-credentials'),
  ]);
  const config = endpointConfigFromEnv(env);
  // The emulator gets its own credentials only, never the runner's ADC search (google/emulator-credentials.ts).
  if (config.mode === 'emulator') return createStorage(config, emulatorCredentials(config, env));
  const credentialConfig = env.KEYLESS_CREDENTIAL_CONFIG;
  if (!credentialConfig) return createStorage(config);
  const client = await new GoogleAuth({ keyFilename: credentialConfig, scopes: [CLOUD_PLATFORM] }).getClient();
  return createStorage(config, client as unknown as Parameters<typeof createStorage>[1]);
}

async function readAtMost(path: string, max: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(max);
    const { bytesRead } = await handle.read(buffer, 0, max, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The C library's messages, as the Python exec prints them (Node's own messages name the call and path). */
const STRERROR: Record<string, string> = {
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  EIO: 'Input/output error',
  ENAMETOOLONG: 'File name too long',
  EPERM: 'Operation not permitted',
};

/** Google API errors by status, named as the Python client's exceptions are. */
const HTTP_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};
