// The route rules every reader checks, written once in clients/vectors/route.json, against the
// TypeScript rules (contracts/route-rules.ts) that every TypeScript reader uses, and against
// contracts/route.ts's RouteSchema for the rows a parsed object can show (a document's size, its
// repeated fields and the reader's pins are the readers' part). The Python client checks the same
// file (clients/python/tests), so both languages agree on every row.

import { describe, expect, it } from 'vitest';
import { RouteSchema } from '../../contracts/route';
import { parseRouteDocument, RouteRefused } from '../../contracts/route-rules';
import { documentText, routeVectors, type RouteCase } from '../support/route-vectors';

const vectors = routeVectors;

function rulesVerdict(c: RouteCase): { verdict: 'valid' | 'invalid'; field?: string } {
  try {
    parseRouteDocument(documentText(c, vectors.base), { pipeline: c.pipeline ?? vectors.pipeline, nowMs: vectors.nowMs, ...(c.expect ? { expect: c.expect } : {}) });
    return { verdict: 'valid' };
  } catch (err) {
    if (!(err instanceof RouteRefused)) throw err;
    return { verdict: 'invalid', field: err.field };
  }
}

/** Rows a parsed object shows by itself: no raw text, no padding, no other pipeline asked for, no pins, and not the cross-project account (a writer may name one). */
const schemaRow = (c: RouteCase) => c.raw === undefined && c.padTo === undefined && c.expect === undefined && c.set?.pipeline === c.pipeline && !/another project's account/.test(c.name) && !/generation/.test(c.name);

describe('route rules (clients/vectors/route.json) in TypeScript', () => {
  it('has valid and invalid cases, each invalid one naming its field, padded cases of the stated size, and no known gaps left', () => {
    expect(vectors.cases.filter((c) => c.verdict === 'valid').length).toBeGreaterThan(5);
    expect(vectors.cases.filter((c) => c.verdict === 'invalid').every((c) => typeof c.field === 'string')).toBe(true);
    for (const c of vectors.cases.filter((x) => x.padTo !== undefined)) expect(Buffer.byteLength(documentText(c, vectors.base))).toBe(c.padTo);
    expect(vectors.cases.filter((c) => 'ts' in c)).toEqual([]);
  });

  for (const c of vectors.cases) {
    it(`${c.verdict}${c.field ? ` (${c.field})` : ''}: ${c.name}`, () => {
      expect(rulesVerdict(c)).toEqual(c.verdict === 'valid' ? { verdict: 'valid' } : { verdict: 'invalid', field: c.field });
    });
  }

  for (const c of vectors.cases.filter(schemaRow)) {
    it(`RouteSchema agrees: ${c.verdict}: ${c.name}`, () => {
      const parsed = RouteSchema.safeParse(JSON.parse(documentText(c, vectors.base)));
      expect(parsed.success).toBe(c.verdict === 'valid');
    });
  }

  it('RouteSchema refuses a far-future generation and a location that sends prompts elsewhere, naming the field and not the value', () => {
    const base = { ...vectors.base, generation: Date.now() + 2 * 86_400_000 };
    const future = RouteSchema.safeParse(base);
    expect(future.success).toBe(false);
    expect(future.error?.issues[0]?.path).toEqual(['generation']);
    const evil = RouteSchema.safeParse({ ...vectors.base, generation: 1, location: 'evil.example#' });
    expect(evil.error?.issues[0]?.path).toEqual(['location']);
    expect(JSON.stringify(evil.error?.issues)).not.toContain('evil.example');
  });
});
