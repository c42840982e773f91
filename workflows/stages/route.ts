// Publishing the pipeline's route, and the route's undo: back to 0 % on Vertex, where every run
// uses the key again. Each publish records the undo anew with the next generation, so the log
// always holds one route undo, newer than every route keyless wrote.

import { routeLocation, type Route } from '../../contracts/route';
import { compensations, mutations } from '../activities';
import { nowIso, type Migration } from '../migration';

/** The route document for `vertexPercent`, at `generation`. */
function routeAt(m: Migration, vertexPercent: number, generation: number): Route {
  return {
    pipeline: m.spec.pipeline,
    generation,
    vertexPercent,
    project: m.spec.project,
    location: m.spec.vertex.location,
    serviceAccount: m.serviceAccountEmail,
    updatedAt: nowIso(),
  };
}

/** Where the pipeline's route document lives. */
export function routeTarget(m: Pick<Migration, 'spec'>): string {
  return routeLocation(m.spec.route.store, m.spec.pipeline);
}

/** Publishes a route with a generation newer than any this workflow wrote before. */
export async function publishRoute(m: Migration, vertexPercent: number, approvedBy: string | undefined, forRollback = false): Promise<void> {
  // Workflow time in milliseconds keeps generations rising across successive migrations of the
  // same pipeline, and replays produce the same value.
  m.routeGeneration = Math.max(m.routeGeneration + 1, Date.now());
  const route = routeAt(m, vertexPercent, m.routeGeneration);
  const outcome = await (forRollback ? compensations : mutations).publishRoute({ store: m.spec.route.store, route });
  m.vertexPercent = vertexPercent;
  const mutation = { kind: 'route-published' as const, target: outcome.location, detail: `generation ${route.generation}: ${vertexPercent}% on Vertex`, approvedBy };
  m.recordMutation(mutation, forRollback ? undefined : { id: 'route', activity: 'publishRouteToKey', input: { store: m.spec.route.store, route: routeAt(m, 0, route.generation + 1) } });
}
