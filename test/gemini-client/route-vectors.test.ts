// The route rules every reader checks, written once in clients/vectors/route.json, against today's
// TypeScript schema (contracts/route.ts). Rows marked `ts` are the known gaps: the schema's current
// verdict is asserted for them, so whoever tightens it flips the mark and this test tells them
// which rows still differ. The Python client checks the same file (clients/python/tests).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RouteSchema } from '../../contracts/route';

interface RouteCase {
  name: string;
  set?: Record<string, unknown>;
  unset?: string[];
  raw?: string;
  padTo?: number;
  pipeline?: string;
  expect?: { project?: string; serviceAccount?: string };
  verdict: 'valid' | 'invalid';
  field?: string;
  ts?: 'lenient' | 'stricter';
}

interface RouteVectors {
  nowMs: number;
  pipeline: string;
  base: Record<string, unknown>;
  cases: RouteCase[];
}

const vectors = JSON.parse(readFileSync(new URL('../../clients/vectors/route.json', import.meta.url), 'utf8')) as RouteVectors;

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

/** Today's TypeScript verdict: the schema, after JSON.parse (which a document may already fail). */
function tsVerdict(text: string): 'valid' | 'invalid' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'invalid';
  }
  return RouteSchema.safeParse(parsed).success ? 'valid' : 'invalid';
}

const flip = (v: 'valid' | 'invalid') => (v === 'valid' ? 'invalid' : 'valid');

describe('route rules (clients/vectors/route.json) against contracts/route.ts', () => {
  it('has valid and invalid cases, each invalid one naming its field, and padded cases of the stated size', () => {
    expect(vectors.cases.filter((c) => c.verdict === 'valid').length).toBeGreaterThan(5);
    expect(vectors.cases.filter((c) => c.verdict === 'invalid').every((c) => typeof c.field === 'string')).toBe(true);
    for (const c of vectors.cases.filter((x) => x.padTo !== undefined)) expect(Buffer.byteLength(documentText(c, vectors.base))).toBe(c.padTo);
  });

  for (const c of vectors.cases.filter((x) => !x.ts)) {
    it(`${c.verdict}: ${c.name}`, () => {
      expect(tsVerdict(documentText(c, vectors.base))).toBe(c.verdict);
    });
  }

  // Known gaps: the rule's verdict is the opposite of today's schema's, asserted as it is.
  for (const c of vectors.cases.filter((x) => x.ts)) {
    it(`known gap (TypeScript schema is ${c.ts}; rule says ${c.verdict}): ${c.name}`, () => {
      expect(tsVerdict(documentText(c, vectors.base))).toBe(flip(c.verdict));
    });
  }
});
