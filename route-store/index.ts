// Route documents in their stores (a local file, a Cloud Storage object). A route's generation
// only grows: a write whose generation is older than the stored one loses, and rewriting the same
// generation is a no-op, which makes publishing idempotent under retries. Documents live at
// `<store>/<project>/<pipeline>.json`; readers also try the old `<store>/<pipeline>.json`, where
// migrations started before the move still publish. Failures are plain KeylessErrors (StaleRoute,
// RouteRefused, InvalidSpec, or the Google taxonomy's types for Storage errors); the activity
// layer turns them into ApplicationFailures.

import { resolve, sep } from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { ErrorType, KeylessError, isKeylessError } from '../contracts/errors';
import { routeLocation, routeLocations, type Route, type RouteExpectation, type RoutePath } from '../contracts/route';
import { fileRouteStore } from './file';
import { gcsRouteStore } from './gcs';
import { staleRoute, type RouteReadOptions, type RouteStore } from './store';

export { DEFAULT_ROUTE_READ_TIMEOUT_MS, staleRoute, type RouteReadOptions, type RouteStore } from './store';
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
    read: (location, options) => (gcs ??= gcsRouteStore(storage())).read(location, options),
    write: (location, route, options) => (gcs ??= gcsRouteStore(storage())).write(location, route, options),
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

/** A route location built from checked names, resolved: it must still lie inside the store (no `..` after resolution, no other bucket). */
export function insideStore(storeUrl: string, location: string): string {
  const root = storeUrl.replace(/\/+$/, '');
  const outside = () =>
    new KeylessError({ type: ErrorType.InvalidSpec, message: `route location ${location} resolves outside the store ${root}` });
  if (root.startsWith('file://')) {
    const dir = resolve(root.slice('file://'.length));
    const path = resolve(location.replace(/^file:\/\//, ''));
    if (!path.startsWith(dir.endsWith(sep) ? dir : dir + sep)) throw outside();
    return location;
  }
  if (!location.startsWith(`${root}/`) || location.slice(root.length + 1).split('/').some((part) => part === '' || part === '.' || part === '..')) throw outside();
  return location;
}

export interface PublishOptions {
  /** Where the document goes; default 'legacy' (`<store>/<pipeline>.json`), as recorded by migrations started before the move. */
  path?: RoutePath;
  /**
   * Rollback's way back to the key: publish even when the store holds a newer generation keyless
   * did not write (one past it, when readers accept it) or a document that breaks the rules.
   */
  overwrite?: boolean;
}

/** Where a route is published. */
export function publishLocation(storeUrl: string, route: Pick<Route, 'pipeline' | 'project'>, path: RoutePath = 'legacy'): string {
  return insideStore(storeUrl, routeLocation(storeUrl, route.pipeline, path === 'project' ? route.project : undefined));
}

/** Publishes a route unless the store already holds the same or a newer generation (with `overwrite`, over it). */
export async function publishRouteTo(stores: RouteStores, storeUrl: string, route: Route, options: PublishOptions = {}): Promise<PublishOutcome> {
  const store = storeFor(stores, storeUrl);
  const location = publishLocation(storeUrl, route, options.path);
  let current: Route | undefined;
  try {
    current = await store.read(location, { pipeline: route.pipeline, expect: { project: route.project, serviceAccount: route.serviceAccount } });
  } catch (err) {
    if (!(options.overwrite && isKeylessError(err) && err.type === ErrorType.RouteRefused)) throw err;
  }
  let publish = route;
  if (current && current.generation > route.generation) {
    if (!options.overwrite) throw staleRoute(location, current.generation, route.generation);
    // The stored generation passed the rules (at most a day ahead): one past it is what readers' caches follow.
    publish = { ...route, generation: current.generation + 1 };
  } else if (current && current.generation === route.generation) {
    return { location, generation: route.generation, written: false };
  }
  await store.write(location, publish, options.overwrite ? { overwrite: true } : undefined);
  return { location, generation: publish.generation, written: true };
}

export interface ReadRouteOptions extends Omit<RouteReadOptions, 'pipeline' | 'expect'> {
  /** The reader's project: the document is looked for at `<store>/<project>/<pipeline>.json` first, and must name it. */
  project?: string;
  expect?: RouteExpectation;
}

/** A pipeline's current route document, if any: at its project's place, else (once) at the old one. */
export async function readRouteFrom(stores: RouteStores, storeUrl: string, pipeline: string, options: ReadRouteOptions = {}): Promise<Route | undefined> {
  const store = storeFor(stores, storeUrl);
  const { project, expect, ...read } = options;
  const pinned: RouteExpectation = { ...(project ? { project } : {}), ...expect };
  for (const location of routeLocations(storeUrl, pipeline, project)) {
    const route = await store.read(insideStore(storeUrl, location), { ...read, pipeline, expect: pinned });
    if (route) return route;
  }
  return undefined;
}
