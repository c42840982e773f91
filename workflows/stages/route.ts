// Publishing the pipeline's route, and the route's undo: back to 0 % on Vertex, where every run
// uses the key again. Each publish records the undo anew with the next generation, so the log
// always holds one route undo, newer than every route keyless wrote.

import { patched } from '@temporalio/workflow';
import { routeLocation, type Route, type RoutePath } from '../../contracts/route';
import { compensations, mutations } from '../activities';
import { nowIso, type Migration } from '../migration';

/**
 * Patch: routes are published at `<store>/<project>/<pipeline>.json` (histories before it, at
 * `<store>/<pipeline>.json`, where two projects' pipelines of one name shared a document).
 */
export const ROUTE_BY_PROJECT = 'route-by-project';

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

/** Where a new migration publishes the pipeline's route document (plans show it). */
export function routeTarget(m: Pick<Migration, 'spec'>): string {
  return routeLocation(m.spec.route.store, m.spec.pipeline, m.spec.project);
}

/**
 * Where this migration publishes: decided once, at its first publish, and then read back from the
 * route's undo, so a migration that began at the old place stays there (its readers and its
 * rollback keep finding one document) and needs no new field in its memory.
 */
function routePath(m: Migration): RoutePath | undefined {
  const undo = m.undos.find((u) => u.activity === 'publishRouteToKey');
  if (undo && undo.activity === 'publishRouteToKey') return undo.input.path;
  // Published before this change, without an undo in the log (rollback-legacy.ts rebuilds one without a path).
  if (m.routeGeneration > 0) return undefined;
  return patched(ROUTE_BY_PROJECT) ? 'project' : undefined;
}

/** Publishes a route with a generation newer than any this workflow wrote before. */
export async function publishRoute(m: Migration, vertexPercent: number, approvedBy: string | undefined, forRollback = false): Promise<void> {
  const path = routePath(m);
  // Old place: workflow time in milliseconds keeps generations rising across successive
  // migrations of the same pipeline, and replays produce the same value. Project place: the
  // writer's clock sets it (at least this count), because readers hold a generation to their own
  // clocks, and workflow time may run ahead of them (a time-skipping server runs days ahead).
  m.routeGeneration = path ? m.routeGeneration + 1 : Math.max(m.routeGeneration + 1, Date.now());
  const route = routeAt(m, vertexPercent, m.routeGeneration);
  const where = path ? { path } : {};
  // Rollback's publish must get back to the key even over a generation keyless did not write.
  const outcome = await (forRollback ? compensations : mutations).publishRoute({ store: m.spec.route.store, route, ...where, ...(forRollback ? { overwrite: true } : {}) });
  m.vertexPercent = vertexPercent;
  m.routeGeneration = Math.max(m.routeGeneration, outcome.generation);
  const mutation = { kind: 'route-published' as const, target: outcome.location, detail: `generation ${outcome.generation}: ${vertexPercent}% on Vertex`, approvedBy };
  m.recordMutation(mutation, forRollback ? undefined : { id: 'route', activity: 'publishRouteToKey', input: { store: m.spec.route.store, route: routeAt(m, 0, m.routeGeneration + 1), ...where } });
}
