// The route document: how a pipeline learns which auth to use. Published by the workflow, read
// by every pipeline reader. `generation` only grows, so a stale write never wins. The rules are
// route-rules.ts's plain functions; this schema refines with them, so the workflow's activities,
// the stores and the readers that use zod hold a route to exactly the rules `keyless exec` and the
// Python client check.

import { z } from 'zod';
import { checkRouteRecord, PIPELINE_RE, PIPELINE_RULE, PROJECT_RE, PROJECT_RULE, routeProblem, type Route } from './route-rules';

export { MAX_GENERATION_AHEAD_MS, MAX_ROUTE_BYTES, parseRouteDocument, RouteRefused, type Route, type RouteDocumentContext, type RouteExpectation } from './route-rules';

/**
 * A route as a writer holds it: every rule but the account's project, which a reader checks
 * against what it pins (a Google Cloud runtime may run as another project's account, and its
 * readers then pin it with `expect`).
 */
export const RouteSchema = z
  .strictObject({
    pipeline: z.string(),
    generation: z.number(),
    vertexPercent: z.number(),
    project: z.string(),
    location: z.string(),
    serviceAccount: z.string(),
    updatedAt: z.string(),
  })
  .superRefine((route, ctx) => {
    // Date.now() is workflow time inside a workflow, so the check replays the same.
    const problem = routeProblem(route, { nowMs: Date.now(), expect: { serviceAccount: route.serviceAccount } });
    if (problem) ctx.addIssue({ code: 'custom', path: problem.field === '(document)' ? [] : [problem.field], message: problem.message });
  }) satisfies z.ZodType<Route>;

/** Checks a route the writer built itself; throws RouteRefused naming the field. */
export function checkOwnRoute(route: Route, nowMs: number): Route {
  return checkRouteRecord({ ...route }, { nowMs, expect: { serviceAccount: route.serviceAccount } });
}

/** Where route documents are put: by project (`<store>/<project>/<pipeline>.json`) or, for migrations started before that, `<store>/<pipeline>.json`. */
export type RoutePath = 'project' | 'legacy';

/**
 * Where a pipeline's route document lives in a store such as file://dir or gs://bucket/prefix:
 * `<store>/<project>/<pipeline>.json`, or the old `<store>/<pipeline>.json` without a project. Both
 * names must pass the spec's rules, so nothing read from a key or a document can climb out of the
 * store (`../`).
 */
export function routeLocation(store: string, pipeline: string, project?: string): string {
  if (!PIPELINE_RE.test(pipeline)) throw new TypeError(`route location: pipeline ${PIPELINE_RULE}`);
  if (project !== undefined && !PROJECT_RE.test(project)) throw new TypeError(`route location: project ${PROJECT_RULE}`);
  const root = store.replace(/\/+$/, '');
  return project === undefined ? `${root}/${pipeline}.json` : `${root}/${project}/${pipeline}.json`;
}

/** Where a reader looks, in order: the project's place, then (once) the old one that migrations started before the move still publish at. */
export function routeLocations(store: string, pipeline: string, project: string | undefined): string[] {
  return project === undefined ? [routeLocation(store, pipeline)] : [routeLocation(store, pipeline, project), routeLocation(store, pipeline)];
}
