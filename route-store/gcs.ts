// Route documents as Cloud Storage objects, gs://bucket/prefix/<pipeline>.json. Every write names
// the object generation it read (ifGenerationMatch, 0 for "must not exist yet"), so of two
// workers publishing at once only one can win; the loser re-reads and either finds a newer route
// (StaleRoute) or tries again on top of it.

import type { File, Storage } from '@google-cloud/storage';
import { ErrorType, KeylessError, isKeylessError } from '../contracts/errors';
import { MAX_ROUTE_BYTES, RouteRefused, RouteSchema, type Route } from '../contracts/route';
import { googleError } from '../google/errors';
import { abortable, checkDocument, readDeadline, routeRefused, staleRoute, type RouteReadOptions, type RouteStore } from './store';

/** Lost precondition races retried per write; each loss means someone else published in between. */
const WRITE_ATTEMPTS = 3;
/** Reads that raced an overwrite between metadata and content. */
const READ_ATTEMPTS = 3;

/** A route object as read: the document and the object generation it was read at ('0': absent). */
export interface StoredRoute {
  route: Route | undefined;
  objectGeneration: string;
}

/** The Cloud Storage route store the worker registers under scheme `gs`. */
export function gcsRouteStore(storage: Storage): RouteStore {
  return {
    async read(location, options) {
      return (await readRouteObject(storage, location, options)).route;
    },
    async write(location, route, options = {}) {
      for (let attempt = 1; ; attempt += 1) {
        let current: StoredRoute;
        try {
          current = await readRouteObject(storage, location, { pipeline: route.pipeline, expect: { project: route.project, serviceAccount: route.serviceAccount } });
        } catch (err) {
          // Rollback writes over a document nobody may follow: the object generation is all it needs.
          const refusedAt = refusedObjectGeneration(err);
          if (!options.overwrite || refusedAt === undefined) throw err;
          current = { route: undefined, objectGeneration: refusedAt };
        }
        if (current.route && current.route.generation > route.generation && !options.overwrite) throw staleRoute(location, current.route.generation, route.generation);
        if (current.route && current.route.generation === route.generation) return;
        try {
          await writeRouteObject(storage, location, route, current.objectGeneration);
          return;
        } catch (err) {
          if (!(isKeylessError(err) && err.type === ErrorType.StaleRoute) || attempt >= WRITE_ATTEMPTS) throw err;
        }
      }
    },
  };
}

/**
 * Reads a route and the object generation it came from; a missing object is generation '0'. An
 * object past the size cap is refused by its metadata, and a download is cut one byte past it
 * (metadata can be stale); the whole read is abandoned at the deadline.
 */
export async function readRouteObject(storage: Storage, location: string, options: RouteReadOptions = {}): Promise<StoredRoute> {
  const file = routeFile(storage, location);
  const deadline = readDeadline(options, location);
  try {
    for (let attempt = 1; ; attempt += 1) {
      let objectGeneration: string;
      let size: number;
      try {
        const [metadata] = await abortable(file.getMetadata(), deadline.signal);
        objectGeneration = String(metadata.generation ?? '0');
        size = Number(metadata.size ?? 0);
      } catch (err) {
        if (deadline.signal.aborted) throw deadline.signal.reason as Error;
        if (statusOf(err) === 404) return { route: undefined, objectGeneration: '0' };
        throw googleError(err, { context: `read route ${location}` });
      }
      if (size > MAX_ROUTE_BYTES) throw withObjectGeneration(routeRefused(location, new RouteRefused('(document)', `is larger than ${MAX_ROUTE_BYTES / 1024} KiB`)), objectGeneration);
      let content: Buffer;
      try {
        // Download exactly the generation whose number we hold, not whatever is newest by now.
        content = await downloadAtMost(file.bucket.file(file.name, { generation: objectGeneration }), MAX_ROUTE_BYTES + 1, deadline.signal);
      } catch (err) {
        if (deadline.signal.aborted) throw deadline.signal.reason as Error;
        // Overwritten between the two requests (that generation is gone): read the new one.
        if (statusOf(err) === 404 && attempt < READ_ATTEMPTS) continue;
        throw googleError(err, { context: `read route ${location}` });
      }
      try {
        return { route: checkDocument(location, content, options), objectGeneration };
      } catch (err) {
        throw isKeylessError(err) ? withObjectGeneration(err, objectGeneration) : err;
      }
    }
  } finally {
    deadline.done();
  }
}

/** A refused document's error carries the object generation it was read at, so an overwrite can still be conditional. */
function withObjectGeneration(err: KeylessError, objectGeneration: string): KeylessError {
  (err.details as Record<string, unknown>[]).push({ objectGeneration });
  return err;
}

function refusedObjectGeneration(err: unknown): string | undefined {
  if (!isKeylessError(err) || err.type !== ErrorType.RouteRefused) return undefined;
  const found = (err.details as { objectGeneration?: unknown }[]).find((d) => typeof d?.objectGeneration === 'string');
  return found?.objectGeneration as string | undefined;
}

/** An object's bytes, the stream destroyed once it passes `max` bytes or the signal fires. */
function downloadAtMost(file: File, max: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    // Validation would compare a checksum of the whole object, which a cut read never has.
    const stream = file.createReadStream({ validation: false });
    const onAbort = () => stream.destroy(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err as Error);
      else resolve(Buffer.concat(chunks));
    };
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= max) {
        stream.destroy();
        finish();
      }
    });
    stream.on('error', (err) => (total >= max ? undefined : finish(err)));
    stream.on('end', () => finish());
  });
}

/**
 * Writes a route only if the object is still at `objectGeneration` ('0': only if absent);
 * otherwise someone published in between and this write loses with StaleRoute.
 */
export async function writeRouteObject(storage: Storage, location: string, route: Route, objectGeneration: string): Promise<void> {
  const file = routeFile(storage, location);
  try {
    await file.save(`${JSON.stringify(RouteSchema.parse(route), null, 2)}\n`, {
      // One request: a resumable session is pointless for a small document.
      resumable: false,
      contentType: 'application/json',
      preconditionOpts: { ifGenerationMatch: objectGeneration },
      metadata: { cacheControl: 'no-cache' },
    });
  } catch (err) {
    if (statusOf(err) === 412) {
      throw new KeylessError({
        type: ErrorType.StaleRoute,
        message: `route ${location} changed since it was read (object generation ${objectGeneration}); route generation ${route.generation} not written`,
      });
    }
    throw googleError(err, { context: `write route ${location}` });
  }
}

function routeFile(storage: Storage, location: string): File {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `not a Cloud Storage route location: ${location} (expected gs://bucket/prefix/<pipeline>.json)`,
    });
  }
  return storage.bucket(match[1]!).file(match[2]!);
}

/** Storage errors carry the HTTP status as `code`. */
function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
