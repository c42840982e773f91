// The route as a pipeline sees it: read from its store at most once per TTL, and never an error.
// keyless being down (store unreachable, document unreadable) must not stop a pipeline, so a
// failed read keeps the last route seen, and with none the pipeline stays on its key.

import type { Storage } from '@google-cloud/storage';
import { RouteSchema, routeLocation } from '../contracts/route';
import { fileRouteStore, gcsRouteStore } from '../route-store';
import { RouteCache as RouteCacheCore, type RouteCacheOptions, type RouteSource } from './route-cache-core';

export type { RouteCacheOptions, RouteSource, RouteView } from './route-cache-core';

/** A route source over a store URL (`file://dir` or `gs://bucket/prefix`), using keyless's own readers. */
export function routeSourceFromStore(store: string, pipeline: string, storage: () => Storage): RouteSource {
  const location = routeLocation(store, pipeline);
  if (store.startsWith('file://')) return { location, read: () => fileRouteStore.read(location) };
  if (store.startsWith('gs://')) {
    let reader: ReturnType<typeof gcsRouteStore> | undefined;
    return { location, read: () => (reader ??= gcsRouteStore(storage())).read(location) };
  }
  throw new TypeError(`route store must be file://<dir> or gs://<bucket>[/<prefix>], not ${store}`);
}

/** The client's route cache: route-cache-core.ts's rules, every route held to the route schema. */
export class RouteCache extends RouteCacheCore {
  constructor(options: RouteCacheOptions) {
    super({ check: (route) => RouteSchema.parse(route), ...options });
  }
}
