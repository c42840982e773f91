// The split is pure: these run thousands of decisions without any network.

import { describe, expect, it } from 'vitest';
import { choosesVertex, splitBucket } from '../../gemini-client';

/** Stated tolerance: over 5,000 decisions the Vertex share is within 2.5 points of vertexPercent. */
const DECISIONS = 5_000;
const TOLERANCE_POINTS = 2.5;

function vertexShare(percent: number, unit: (i: number) => string, pipeline = 'nightly-summarizer'): number {
  let vertex = 0;
  for (let i = 0; i < DECISIONS; i++) if (choosesVertex(percent, pipeline, unit(i))) vertex += 1;
  return (100 * vertex) / DECISIONS;
}

describe('the Vertex/key split', () => {
  for (const percent of [1, 10, 25, 50, 90]) {
    it(`tracks vertexPercent ${percent} within ${TOLERANCE_POINTS} points over ${DECISIONS} sequential call ids`, () => {
      expect(Math.abs(vertexShare(percent, (i) => `run-7#${i}`) - percent)).toBeLessThanOrEqual(TOLERANCE_POINTS);
    });
  }

  it('tracks vertexPercent for random run ids and for another pipeline name too', () => {
    expect(Math.abs(vertexShare(10, () => crypto.randomUUID()) - 10)).toBeLessThanOrEqual(TOLERANCE_POINTS);
    expect(Math.abs(vertexShare(50, (i) => `2026-11-28T00:${i}`, 'ticket-triage') - 50)).toBeLessThanOrEqual(TOLERANCE_POINTS);
  });

  it('spreads units evenly over the 100 buckets', () => {
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 20_000; i++) counts[splitBucket('report-digest', `run-${i}`)]! += 1;
    // 200 expected per bucket; a skewed hash leaves some near empty and others doubled.
    expect(Math.min(...counts)).toBeGreaterThan(130);
    expect(Math.max(...counts)).toBeLessThan(270);
  });

  it('is deterministic, and raising the percent only moves units from the key to Vertex', () => {
    const units = Array.from({ length: 2_000 }, (_, i) => `run-${i}`);
    expect(units.map((u) => splitBucket('p', u))).toEqual(units.map((u) => splitBucket('p', u)));
    const at10 = units.filter((u) => choosesVertex(10, 'p', u));
    const at50 = new Set(units.filter((u) => choosesVertex(50, 'p', u)));
    expect(at10.length).toBeGreaterThan(0);
    expect(at10.every((u) => at50.has(u))).toBe(true);
  });

  it('sends everything to the key at 0 and everything to Vertex at 100', () => {
    const units = Array.from({ length: 500 }, (_, i) => `u${i}`);
    expect(units.some((u) => choosesVertex(0, 'p', u))).toBe(false);
    expect(units.every((u) => choosesVertex(100, 'p', u))).toBe(true);
  });
});
