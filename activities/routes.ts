// Route documents and the cloud's clock, as activities over route-store/.

import type { KeylessActivities } from '../contracts/activities';
import { RouteSchema } from '../contracts/route';
import { publishRouteTo, readRouteFrom, type RouteStores } from '../route-store';

type RouteActivities = Pick<KeylessActivities, 'publishRoute' | 'publishRouteToKey' | 'readRoute' | 'cloudTime'>;

export function createRouteActivities(stores: RouteStores): RouteActivities {
  return {
    publishRoute: (input) => publishRouteTo(stores, input.store, RouteSchema.parse(input.route), { path: input.path ?? 'legacy', ...(input.overwrite ? { overwrite: true } : {}) }),
    async publishRouteToKey(input) {
      const route = RouteSchema.parse({ ...input.route, vertexPercent: 0, updatedAt: new Date().toISOString() });
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
