// The route as a pipeline sees it: read from its store at most once per TTL, and never an error.
// keyless being down (store unreachable, document unreadable) must not stop a pipeline, so a
// failed read keeps the last route seen, and with none the pipeline stays on its key. A document
// that breaks the route rules counts as a failed read: it is never followed.

import type { Storage } from '@google-cloud/storage';
import { checkRouteRecord, type Route, type RouteExpectation } from '../contracts/route-rules';
import { fileRouteStore, gcsRouteStore, readRouteFrom, type RouteStore } from '../route-store';
import { RouteCache as RouteCacheCore, type RouteCacheOptions, type RouteSource } from './route-cache-core';

export type { RouteCacheOptions, RouteSource, RouteView } from './route-cache-core';

/** Who reads: the pipeline, its project (the document's place and what it must name) and what else it pins. */
export interface RouteReader {
  pipeline: string;
  project: string;
  expect?: RouteExpectation;
}

/**
 * A route source over a store URL (`file://dir` or `gs://bucket/prefix`), using keyless's own
 * readers: `<store>/<project>/<pipeline>.json`, else the old `<store>/<pipeline>.json`, each held
 * to the route rules and the reader's pins.
 */
export function routeSourceFromStore(store: string, reader: RouteReader, storage: () => Storage): RouteSource {
  let gcs: RouteStore | undefined;
  const stores: Record<string, RouteStore> = {
    file: fileRouteStore,
    gs: { read: (location, options) => (gcs ??= gcsRouteStore(storage())).read(location, options), write: () => Promise.reject(new Error('a pipeline never writes its route')) },
  };
  if (!store.startsWith('file://') && !store.startsWith('gs://')) throw new TypeError('route store must be file://<dir> or gs://<bucket>[/<prefix>]');
  const location = `${store.replace(/\/+$/, '')}/${reader.project}/${reader.pipeline}.json`;
  return {
    location,
    read: async (signal) => readRouteFrom(stores, store, reader.pipeline, { project: reader.project, ...(reader.expect ? { expect: reader.expect } : {}), ...(signal ? { signal } : {}) }),
  };
}

/**
 * The client's route cache: route-cache-core.ts's rules; with a `reader`, every route is held to
 * the route rules and its pins again as it enters the cache (a store source already checked the
 * document; a source of the caller's own code is the caller's to trust).
 */
export class RouteCache extends RouteCacheCore {
  constructor(options: RouteCacheOptions & { reader?: RouteReader }) {
    const { reader, ...rest } = options;
    const check = reader ? (route: Route): Route => checkRouteRecord({ ...route }, { pipeline: reader.pipeline, nowMs: (options.now ?? Date.now)(), expect: { project: reader.project, ...reader.expect } }) : undefined;
    super({ ...(check ? { check } : {}), ...rest });
  }
}
