// The shared route vectors (clients/vectors/route.json), loaded as every TypeScript test reads them.
// A `set` value of "{key-shaped}" stands for a string shaped like an API key, built here at run
// time so that none is written into the repository (the Python tests expand it the same way).

import { readFileSync } from 'node:fs';
import { testKeyString } from './keys';

export interface RouteCase {
  name: string;
  set?: Record<string, unknown>;
  unset?: string[];
  raw?: string;
  padTo?: number;
  pipeline?: string;
  expect?: { project?: string; serviceAccount?: string };
  verdict: 'valid' | 'invalid';
  field?: string;
}

export interface RouteVectors {
  nowMs: number;
  pipeline: string;
  base: Record<string, unknown>;
  cases: RouteCase[];
}

/** What "{key-shaped}" in a vector stands for. */
export const KEY_SHAPED = testKeyString('SyRouteVector');

export const routeVectors: RouteVectors = (() => {
  const vectors = JSON.parse(readFileSync(new URL('../../clients/vectors/route.json', import.meta.url), 'utf8')) as RouteVectors;
  for (const c of vectors.cases) {
    for (const [field, value] of Object.entries(c.set ?? {})) if (value === '{key-shaped}') c.set![field] = KEY_SHAPED;
  }
  return vectors;
})();

/** The document's text, built as every reader's test builds it. */
export function documentText(c: RouteCase, base: Record<string, unknown>): string {
  if (c.raw !== undefined) return c.raw;
  const doc: Record<string, unknown> = { ...base, ...c.set };
  for (const name of c.unset ?? []) delete doc[name];
  const text = JSON.stringify(doc);
  if (c.padTo === undefined) return text;
  const pad = c.padTo - Buffer.byteLength(text);
  return `${text.slice(0, -1)}${' '.repeat(pad)}}`;
}
