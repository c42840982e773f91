// Route documents in their stores. A route's generation only grows: a write whose generation is
// older than the stored one loses, and rewriting the same generation is a no-op, which makes
// publishing idempotent under Temporal's retries.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../contracts/errors';
import { RouteSchema, routeLocation, type Route } from '../contracts/route';

/** What publishRoute did. */
export interface PublishOutcome {
  location: string;
  generation: number;
  /** False when the store already held this generation (a retry). */
  written: boolean;
}

/** A place route documents are kept. */
export interface RouteStore {
  read(location: string): Promise<Route | undefined>;
  write(location: string, route: Route): Promise<void>;
}

/** Routes as JSON files; relative paths resolve against the worker's working directory. */
export const fileRouteStore: RouteStore = {
  async read(location) {
    const path = filePath(location);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return RouteSchema.parse(JSON.parse(text));
  },
  async write(location, route) {
    const path = filePath(location);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a reader never sees half a document.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(route, null, 2)}\n`);
    await rename(tmp, path);
  },
};

function filePath(location: string): string {
  return resolve(location.replace(/^file:\/\//, ''));
}

/** Publishes a route unless the store already holds the same or a newer generation. */
export async function publishRouteTo(stores: Record<string, RouteStore>, storeUrl: string, route: Route): Promise<PublishOutcome> {
  const store = storeFor(stores, storeUrl);
  const location = routeLocation(storeUrl, route.pipeline);
  const current = await store.read(location);
  if (current && current.generation > route.generation) {
    throw ApplicationFailure.create({
      type: ErrorType.StaleRoute,
      nonRetryable: true,
      message: `route ${location} is at generation ${current.generation}, newer than ${route.generation}: someone else published it`,
    });
  }
  if (current && current.generation === route.generation) {
    return { location, generation: route.generation, written: false };
  }
  await store.write(location, route);
  return { location, generation: route.generation, written: true };
}

export function storeFor(stores: Record<string, RouteStore>, storeUrl: string): RouteStore {
  const scheme = storeUrl.split('://')[0] ?? '';
  const store = stores[scheme];
  if (!store) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidSpec,
      nonRetryable: true,
      message: `no route store for ${scheme}:// in this worker (known: ${Object.keys(stores).join(', ')})`,
    });
  }
  return store;
}
