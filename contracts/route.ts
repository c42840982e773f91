// The route document: how a pipeline learns which auth to use. Published by the workflow,
// read by gemini-client/. `generation` only grows, so a stale write never wins.

import { z } from 'zod';

export const RouteSchema = z.strictObject({
  pipeline: z.string().min(1),
  generation: z.number().int().nonnegative(),
  /** Share of runs or calls that go through Vertex with the service account; the rest use the key. */
  vertexPercent: z.number().int().min(0).max(100),
  project: z.string().min(1),
  location: z.string().min(1),
  serviceAccount: z.string().min(1),
  updatedAt: z.string().datetime(),
});

export type Route = z.infer<typeof RouteSchema>;

/** Where a pipeline's route document lives in a store such as file://dir or gs://bucket/prefix. */
export function routeLocation(store: string, pipeline: string): string {
  return `${store.replace(/\/+$/, '')}/${pipeline}.json`;
}
