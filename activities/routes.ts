// Route documents and the cloud's clock, as activities over route-store/.

import type { KeylessActivities } from '../contracts/activities';
import { RouteSchema, type Route, type RoutePath } from '../contracts/route';
import { publishRouteTo, readRouteFrom, type RouteStores } from '../route-store';

type RouteActivities = Pick<KeylessActivities, 'publishRoute' | 'publishRouteToKey' | 'readRoute' | 'cloudTime'>;

/**
 * On the project path the generation is at least this writer's clock: readers refuse one more
 * than a day ahead of theirs, and the workflow's count alone may lag (a first publish) or its
 * clock run ahead (a time-skipping server). Old-place publishes keep the workflow's value.
 */
function withGeneration(route: Route, path: RoutePath | undefined): Route {
  return path === 'project' ? { ...route, generation: Math.max(route.generation, Date.now()) } : route;
}

export function createRouteActivities(stores: RouteStores): RouteActivities {
  return {
    publishRoute: (input) => publishRouteTo(stores, input.store, RouteSchema.parse(withGeneration(input.route, input.path)), { path: input.path ?? 'legacy', ...(input.overwrite ? { overwrite: true } : {}) }),
    async publishRouteToKey(input) {
      const route = RouteSchema.parse(withGeneration({ ...input.route, vertexPercent: 0, updatedAt: new Date().toISOString() }, input.path));
      // Back to the key must always be possible: a generation pinned far ahead, or a tampered document, must not stop it.
      const outcome = await publishRouteTo(stores, input.store, route, { path: input.path ?? 'legacy', overwrite: true });
      return {
        changes: [{ kind: 'route-published', target: outcome.location, detail: `generation ${outcome.generation}: 0% on Vertex` }],
        route: { generation: outcome.generation, vertexPercent: 0 },
      };
    },
    // The shared-key wait follows other pipelines' routes exactly as their readers would.
    readRoute: async (input) => (await readRouteFrom(stores, input.store, input.pipeline, input.project ? { project: input.project } : {})) ?? null,
    cloudTime: async () => new Date().toISOString(),
  };
}
