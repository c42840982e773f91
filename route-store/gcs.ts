// Route documents as Cloud Storage objects, gs://bucket/prefix/<pipeline>.json. Every write names
// the object generation it read (ifGenerationMatch, 0 for "must not exist yet"), so of two
// workers publishing at once only one can win; the loser re-reads and either finds a newer route
// (StaleRoute) or tries again on top of it.

import type { File, Storage } from '@google-cloud/storage';
import { ErrorType, KeylessError, isKeylessError } from '../contracts/errors';
import { RouteSchema, type Route } from '../contracts/route';
import { googleError } from '../google/errors';
import { staleRoute, type RouteStore } from './store';

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
    async read(location) {
      return (await readRouteObject(storage, location)).route;
    },
    async write(location, route) {
      for (let attempt = 1; ; attempt += 1) {
        const current = await readRouteObject(storage, location);
        if (current.route && current.route.generation > route.generation) throw staleRoute(location, current.route.generation, route.generation);
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

/** Reads a route and the object generation it came from; a missing object is generation '0'. */
export async function readRouteObject(storage: Storage, location: string): Promise<StoredRoute> {
  const file = routeFile(storage, location);
  for (let attempt = 1; ; attempt += 1) {
    let objectGeneration: string;
    try {
      const [metadata] = await file.getMetadata();
      objectGeneration = String(metadata.generation ?? '0');
    } catch (err) {
      if (statusOf(err) === 404) return { route: undefined, objectGeneration: '0' };
      throw googleError(err, { context: `read route ${location}` });
    }
    try {
      // Download exactly the generation whose number we hold, not whatever is newest by now.
      const [content] = await file.bucket.file(file.name, { generation: objectGeneration }).download();
      return { route: RouteSchema.parse(JSON.parse(content.toString('utf8'))), objectGeneration };
    } catch (err) {
      // Overwritten between the two requests (that generation is gone): read the new one.
      if (statusOf(err) === 404 && attempt < READ_ATTEMPTS) continue;
      throw googleError(err, { context: `read route ${location}` });
    }
  }
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
