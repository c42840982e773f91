// Route documents in their stores (a local file, a Cloud Storage object). A route's generation
// only grows: a write whose generation is older than the stored one loses, and rewriting the same
// generation is a no-op, which makes publishing idempotent under retries. Failures are plain
// KeylessErrors (StaleRoute, InvalidSpec, or the Google taxonomy's types for Storage errors); the
// activity layer turns them into ApplicationFailures.

import type { Storage } from '@google-cloud/storage';
import { ErrorType, KeylessError } from '../contracts/errors';
import { routeLocation, type Route } from '../contracts/route';
import { fileRouteStore } from './file';
import { gcsRouteStore } from './gcs';
import { staleRoute, type RouteStore } from './store';

export { staleRoute, type RouteStore } from './store';
export { fileRouteStore } from './file';
export { gcsRouteStore, readRouteObject, writeRouteObject, type StoredRoute } from './gcs';

/** What publishing a route did. */
export interface PublishOutcome {
  location: string;
  generation: number;
  /** False when the store already held this generation (a retry). */
  written: boolean;
}

/** Route stores by URL scheme. */
export type RouteStores = Record<string, RouteStore>;

/** The built-in stores: `file` and `gs` (the Storage client is built on first use of a gs:// store). */
export function builtInRouteStores(storage: () => Storage): RouteStores {
  let gcs: RouteStore | undefined;
  const lazyGcs: RouteStore = {
    read: (location) => (gcs ??= gcsRouteStore(storage())).read(location),
    write: (location, route) => (gcs ??= gcsRouteStore(storage())).write(location, route),
  };
  return { file: fileRouteStore, gs: lazyGcs };
}

/** The store for a store URL (`file://…`, `gs://…`); InvalidSpec when no store serves its scheme. */
export function storeFor(stores: RouteStores, storeUrl: string): RouteStore {
  const scheme = storeUrl.split('://')[0] ?? '';
  const store = stores[scheme];
  if (!store) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `no route store for ${scheme}:// (known: ${Object.keys(stores).join(', ')}); route.store must be file://<directory> or gs://<bucket>[/<prefix>]`,
    });
  }
  return store;
}

/** Publishes a route unless the store already holds the same or a newer generation. */
export async function publishRouteTo(stores: RouteStores, storeUrl: string, route: Route): Promise<PublishOutcome> {
  const store = storeFor(stores, storeUrl);
  const location = routeLocation(storeUrl, route.pipeline);
  const current = await store.read(location);
  if (current && current.generation > route.generation) throw staleRoute(location, current.generation, route.generation);
  if (current && current.generation === route.generation) {
    return { location, generation: route.generation, written: false };
  }
  await store.write(location, route);
  return { location, generation: route.generation, written: true };
}

/** A pipeline's current route document, if any. */
export async function readRouteFrom(stores: RouteStores, storeUrl: string, pipeline: string): Promise<Route | undefined> {
  return storeFor(stores, storeUrl).read(routeLocation(storeUrl, pipeline));
}
