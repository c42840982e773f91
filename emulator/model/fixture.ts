// The fixture part the generative and data surfaces read: which models each endpoint serves where,
// aliases per endpoint (so alias drift can be staged), how far Vertex's text drifts from the
// Gemini API's, latency per endpoint, and the Cloud Storage buckets that exist at start.
// The core composes these schemas into the full fixture.

import { z } from 'zod';

const modelName = z.string().regex(/^[a-z0-9][a-z0-9.\-_]*$/, 'a model id such as gemini-2.5-flash');

/** Catalog facts `models.get` / `models.list` return for a model. */
export const ModelInfoSchema = z.object({
  displayName: z.string().optional(),
  description: z.string().optional(),
  version: z.string().default('001'),
  inputTokenLimit: z.number().int().positive().default(1_048_576),
  outputTokenLimit: z.number().int().positive().default(65_536),
});

const LatencySchema = z.object({
  /** Added to every response of the endpoint. */
  fixedMs: z.number().nonnegative().default(0),
  /** Plus a uniformly random share of this. */
  jitterMs: z.number().nonnegative().default(0),
});

/** Models per endpoint and location, aliases, divergence and latency. */
export const ModelFixtureSchema = z.object({
  catalog: z.record(modelName, ModelInfoSchema).default({}),
  gemini: z
    .object({
      /** Model ids (or alias names) the Gemini Developer API serves. */
      served: z.array(modelName).default([]),
      /** alias → the model version it resolves to on this endpoint (`modelVersion` in responses). */
      aliases: z.record(modelName, modelName).default({}),
      latency: LatencySchema.default({ fixedMs: 0, jitterMs: 0 }),
    })
    .default({ served: [], aliases: {}, latency: { fixedMs: 0, jitterMs: 0 } }),
  vertex: z
    .object({
      /** location (`global`, `us-central1`, …) → model ids (or alias names) served there. */
      locations: z.record(z.string().regex(/^[a-z0-9-]+$/), z.array(modelName)).default({}),
      aliases: z.record(modelName, modelName).default({}),
      latency: LatencySchema.default({ fixedMs: 0, jitterMs: 0 }),
    })
    .default({ locations: {}, aliases: {}, latency: { fixedMs: 0, jitterMs: 0 } }),
  /** Share of words Vertex answers differently from the Gemini API for the same request, 0–1. */
  divergence: z.number().min(0).max(1).default(0.03),
});

/** Buckets that exist when the emulator starts from this fixture. */
export const BucketFixtureSchema = z.array(
  z.object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, 'a bucket name'),
    project: z.string(),
  }),
);

export type ModelFixture = z.output<typeof ModelFixtureSchema>;
export type ModelFixtureInput = z.input<typeof ModelFixtureSchema>;
export type BucketFixture = z.output<typeof BucketFixtureSchema>;

/**
 * The demo estate's models: `gemini-2.5-flash` everywhere; `gemini-2.5-flash-lite` on Vertex only in
 * global and us-central1, so a europe-west4 pipeline gets 404; `gemini-flash-latest` resolving to a
 * preview on the Gemini API and to the stable model on Vertex (alias drift).
 */
export const demoModels: ModelFixtureInput = {
  catalog: {
    'gemini-2.5-flash': {
      displayName: 'Gemini 2.5 Flash',
      description: 'Stable version of Gemini 2.5 Flash, a mid-size multimodal model.',
    },
    'gemini-2.5-flash-lite': {
      displayName: 'Gemini 2.5 Flash-Lite',
      description: 'Stable version of Gemini 2.5 Flash-Lite.',
    },
    'gemini-flash-latest': {
      displayName: 'Gemini Flash Latest',
      description: 'Latest release of Gemini Flash.',
    },
  },
  gemini: {
    served: ['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-flash-latest'],
    aliases: { 'gemini-flash-latest': 'gemini-2.5-flash-preview-09-2025' },
  },
  vertex: {
    locations: {
      global: ['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-flash-latest'],
      'us-central1': ['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-flash-latest'],
      'europe-west4': ['gemini-2.5-flash', 'gemini-flash-latest'],
    },
    aliases: { 'gemini-flash-latest': 'gemini-2.5-flash' },
  },
  divergence: 0.03,
};

/** The bucket the demo's route documents live in. */
export const demoBuckets: BucketFixture = [{ name: 'demo-project-keyless-routes', project: 'demo-project' }];

/** Where a request is served. */
export type Endpoint = { kind: 'gemini' } | { kind: 'vertex'; location: string };

/** Whether `model` (an id or an alias) is served at the endpoint. */
export function isServed(models: ModelFixture, endpoint: Endpoint, model: string): boolean {
  const served = endpoint.kind === 'gemini' ? models.gemini.served : models.vertex.locations[endpoint.location];
  return served !== undefined && served.includes(model);
}

/** The version an id or alias resolves to at an endpoint; reported as `modelVersion`. */
export function resolveModelVersion(models: ModelFixture, endpoint: Endpoint, model: string): string {
  const aliases = endpoint.kind === 'gemini' ? models.gemini.aliases : models.vertex.aliases;
  return aliases[model] ?? model;
}
