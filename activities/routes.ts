// Route documents and the cloud's clock, as activities over route-store/.

import type { KeylessActivities } from '../contracts/activities';
import { RouteSchema } from '../contracts/route';
import { publishRouteTo, readRouteFrom, type RouteStores } from '../route-store';

type RouteActivities = Pick<KeylessActivities, 'publishRoute' | 'publishRouteToKey' | 'readRoute' | 'cloudTime'>;

export function createRouteActivities(stores: RouteStores): RouteActivities {
  return {
    publishRoute: (input) => publishRouteTo(stores, input.store, RouteSchema.parse(input.route)),
    async publishRouteToKey(input) {
      const route = RouteSchema.parse({ ...input.route, vertexPercent: 0, updatedAt: new Date().toISOString() });
      const outcome = await publishRouteTo(stores, input.store, route);
      return {
        changes: [{ kind: 'route-published', target: outcome.location, detail: `generation ${route.generation}: 0% on Vertex` }],
        route: { generation: route.generation, vertexPercent: 0 },
      };
    },
    readRoute: async (input) => (await readRouteFrom(stores, input.store, input.pipeline)) ?? null,
    cloudTime: async () => new Date().toISOString(),
  };
}
