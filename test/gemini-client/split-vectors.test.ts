// The shared split vectors (clients/vectors/split.json) that every implementation checks: the
// committed file is exactly what the generator prints from the TypeScript function, so it cannot
// drift from gemini-client/split.ts, and the function gives every row's bucket and decision.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitVectorsText, type SplitVectors } from '../../clients/vectors/generate';
import { choosesVertex, splitBucket } from '../../gemini-client';

const committed = readFileSync(new URL('../../clients/vectors/split.json', import.meta.url), 'utf8');
const vectors = JSON.parse(committed) as SplitVectors;

describe('shared split vectors', () => {
  it('the committed file equals what clients/vectors/generate.ts prints', () => {
    expect(committed).toBe(splitVectorsText());
  });

  it('cover ASCII, run-id styles, unicode beyond the BMP, a lone surrogate, empty ids and every percent edge', () => {
    const ids = vectors.splitBucket.map((v) => v.unitId);
    expect(ids).toContain('🚀');
    expect(ids).toContain('\ud83d');
    expect(ids).toContain('');
    expect(vectors.splitBucket.some((v) => v.pipeline === '')).toBe(true);
    expect(ids.some((id) => /^\d{11}-\d$/.test(id))).toBe(true);
    expect(new Set(vectors.choosesVertex.map((v) => v.vertexPercent))).toEqual(new Set([0, 1, 50, 99, 100]));
    for (const bucket of [0, 49, 50, 99]) expect(vectors.splitBucket.some((v) => v.bucket === bucket)).toBe(true);
  });

  it('splitBucket and choosesVertex give every row', () => {
    for (const v of vectors.splitBucket) expect(splitBucket(v.pipeline, v.unitId), `${v.pipeline} ${v.unitId}`).toBe(v.bucket);
    for (const v of vectors.choosesVertex) expect(choosesVertex(v.vertexPercent, v.pipeline, v.unitId)).toBe(v.vertex);
  });
});
