// The activities of a migration, built from the clients they use. The worker passes Google's or
// the emulator's clients; workflows see only the type of what this factory returns.

import { RouteSchema, routeLocation, type Route } from '../contracts/route';
import { fileRouteStore, publishRouteTo, storeFor, type PublishOutcome, type RouteStore } from './route-store';

/** What the activities need from the outside world. */
export interface ActivityDeps {
  /** Route stores by URL scheme (`file`, `gs`). */
  routeStores?: Record<string, RouteStore>;
}

export function createActivities(deps: ActivityDeps = {}) {
  const routeStores = { file: fileRouteStore, ...deps.routeStores };
  return {
    /** Publishes a pipeline's route document; idempotent per generation. */
    async publishRoute(input: { store: string; route: Route }): Promise<PublishOutcome> {
      return publishRouteTo(routeStores, input.store, RouteSchema.parse(input.route));
    },
    /** Reads a pipeline's current route document, if any. */
    async readRoute(input: { store: string; pipeline: string }): Promise<Route | null> {
      const route = await storeFor(routeStores, input.store).read(routeLocation(input.store, input.pipeline));
      return route ?? null;
    },
  };
}

/** The activity interface workflows proxy; renaming an activity breaks them at compile time. */
export type KeylessActivities = ReturnType<typeof createActivities>;
