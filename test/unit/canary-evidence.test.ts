// The canary's evidence rules as pure functions: what a step asks for, how long it takes at a
// pipeline's volume, the judgement by class, and the rank test on latency distributions.

import { describe, expect, it } from 'vitest';
import type { LatencyHistogram, MethodTraffic } from '../../contracts/reports';
import { validateSpec, type PipelineSpecInput } from '../../contracts/spec';
import { describeWait } from '../../contracts/waits';
import { estimateStep, stepRule } from '../../workflows/canary-evidence';
import { judgeEvidence, responseClasses, type EvidenceInputs, type EvidenceSide } from '../../workflows/canary-verdict';
import { compareLatency } from '../../workflows/latency-comparison';
import { describeNext } from '../../workflows/phase';

const HOUR = 3_600_000;
const minimal: PipelineSpecInput = {
  pipeline: 'nightly-summarizer',
  project: 'demo-project',
  apiKey: 'projects/demo-project/locations/global/keys/nightly-key',
  serviceAccount: { accountId: 'nightly-summarizer' },
  vertex: { models: ['gemini-2.5-flash'] },
};
const specOf = (extra: Partial<PipelineSpecInput>) => {
  const result = validateSpec({ ...minimal, ...extra });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.spec;
};

/** A histogram of `count` requests in the √2 bucket holding `ms` (the emulator's layout). */
function latencies(ms: number, count: number, spreadBuckets = 0): LatencyHistogram {
  const index = Math.floor(Math.log(ms) / Math.log(Math.SQRT2));
  const buckets = [];
  for (let i = index - spreadBuckets; i <= index + spreadBuckets; i++) {
    buckets.push({ lowerMs: Math.SQRT2 ** i, upperMs: Math.SQRT2 ** (i + 1), count: Math.round(count / (2 * spreadBuckets + 1)) });
  }
  return { count: buckets.reduce((s, b) => s + b.count, 0), meanMs: ms, buckets };
}

function side(codes: Record<string, number>, latency?: LatencyHistogram): EvidenceSide {
  const byMethod: MethodTraffic[] = Object.entries(codes).map(([responseCode, requests]) => ({ method: 'GenerateContent', responseCode, requests }));
  return { requests: byMethod.reduce((s, m) => s + m.requests, 0), byMethod, ...(latency ? { latency } : {}) };
}

const base: EvidenceInputs = {
  vertex: side({ '200': 30 }, latencies(800, 30, 1)),
  keyThisStep: side({ '200': 270 }, latencies(800, 270, 1)),
  keyWholeCanary: side({ '200': 500 }, latencies(800, 500, 1)),
  repair: false,
  minRequests: 20,
  maxErrorRateDelta: 0.02,
  maxLatencyRatio: 2,
};

describe('stepRule', () => {
  it('resolves the defaults: the canary minRequests, four times the bake, 48h for a step without a bake', () => {
    const spec = specOf({ canary: { steps: [{ percent: 10, bake: '30m' }, { percent: 100, minRequests: 5 }] } });
    expect(stepRule(spec, 0)).toEqual({ step: 1, of: 2, percent: 10, bakeMs: 30 * 60_000, maxBakeMs: 2 * HOUR, minRequests: 20 });
    expect(stepRule(spec, 1)).toEqual({ step: 2, of: 2, percent: 100, bakeMs: 0, maxBakeMs: 48 * HOUR, minRequests: 5 });
  });

  it('shortens the bake in a repair and takes the step\'s own maxBake before the canary\'s', () => {
    const spec = specOf({ canary: { steps: [{ percent: 100, bake: '4h', maxBake: '1d' }], maxBake: '8h', repairBakeFactor: 0.25 } });
    expect(stepRule(spec, 0, true)).toMatchObject({ bakeMs: HOUR, maxBakeMs: 24 * HOUR });
  });
});

describe('estimateStep', () => {
  it('given an hourly job of three calls, a 10 % step of 20 requests takes about 67 hours, past a 2h maxBake', () => {
    const spec = specOf({});
    const estimate = estimateStep(stepRule(spec, 0), { requests: 3 * 24 * 7, windowMs: 7 * 24 * HOUR });
    expect(estimate.vertexPerHour).toBeCloseTo(0.3, 6);
    expect(estimate.evidenceMs / HOUR).toBeCloseTo(66.7, 1);
    expect(estimate.withinMaxBake).toBe(false);
    // Ten calls a run fill the 100 % step in two hours, inside its four.
    expect(estimateStep(stepRule(spec, 2), { requests: 10 * 24 * 7, windowMs: 7 * 24 * HOUR })).toMatchObject({ expectedMs: 2 * HOUR, withinMaxBake: true });
  });

  it('never gathers evidence without traffic, and needs none with minRequests 0', () => {
    const spec = specOf({ canary: { minRequests: 0 } });
    expect(estimateStep(stepRule(specOf({}), 0), { requests: 0, windowMs: 7 * 24 * HOUR })).toMatchObject({ evidenceMs: Infinity, withinMaxBake: false });
    expect(estimateStep(stepRule(spec, 0), { requests: 0, windowMs: 7 * 24 * HOUR })).toMatchObject({ expectedMs: 30 * 60_000, withinMaxBake: true });
  });
});

describe('judgeEvidence', () => {
  it('given equal error rates and latencies, is healthy against the key in this step', () => {
    const judged = judgeEvidence(base);
    expect(judged).toMatchObject({ verdict: 'healthy', baseline: { source: 'key-this-step' }, latency: { verdict: 'healthy', ratio: 1 } });
  });

  it('given one Vertex 403, is a broken identity at once, however few the requests', () => {
    const judged = judgeEvidence({ ...base, vertex: side({ '200': 1, '403': 1 }) });
    expect(judged).toMatchObject({ verdict: 'breach', breach: 'identity', classes: { vertex: { identity: 1, ok: 1 } } });
    expect(judgeEvidence({ ...base, vertex: side({ '401': 1 }) }).breach).toBe('identity');
  });

  it('reports 429s apart from 5xx and judges each against the key', () => {
    const quota = judgeEvidence({ ...base, vertex: side({ '200': 20, '429': 10 }) });
    expect(quota).toMatchObject({ verdict: 'breach', breach: 'quota', vertex: { errors: 0 }, classes: { vertex: { quota: 10, server: 0 } } });
    const server = judgeEvidence({ ...base, vertex: side({ '200': 20, '503': 10 }) });
    expect(server).toMatchObject({ verdict: 'breach', breach: 'error-rate', vertex: { errors: 10 } });
    expect(responseClasses(side({ '200': 1, '400': 1, '404': 1, '500': 1 }))).toEqual({ ok: 1, identity: 0, quota: 0, server: 1, notFound: 1, other: 1 });
  });

  it('given Vertex three times slower with equal error rates, is a latency breach', () => {
    const judged = judgeEvidence({ ...base, vertex: side({ '200': 30 }, latencies(2400, 30, 1)) });
    expect(judged.verdict).toBe('breach');
    expect(judged.breach).toBe('latency');
    expect(judged.latency.ratio).toBeGreaterThan(2.5);
    expect(judged.latency.z).toBeGreaterThan(3);
  });

  it('given too few requests, decides nothing; a step that leaves the key none is held against its week before', () => {
    expect(judgeEvidence({ ...base, vertex: side({ '200': 3 }) }).verdict).toBe('too-few-requests');
    const judged = judgeEvidence({ ...base, minRequests: 5, vertex: side({ '200': 5, '503': 5 }), keyThisStep: side({}), keyWholeCanary: side({}), keyBeforeCanary: side({ '200': 21 }) });
    expect(judged).toMatchObject({ baseline: { source: 'key-before-canary', requests: 21 }, verdict: 'breach', breach: 'error-rate' });
  });
});

describe('compareLatency', () => {
  it('tolerates Vertex up to the ratio: 1.5 times slower is no breach at a tolerated 2', () => {
    const judged = compareLatency(latencies(1200, 60, 2), latencies(800, 300, 2), 'key-this-step', 2, 20);
    expect(judged.verdict).toBe('healthy');
    expect(judged.ratio).toBeGreaterThan(1.2);
    expect(judged.ratio).toBeLessThan(1.8);
  });

  it('needs enough requests on both sides, and a baseline', () => {
    expect(compareLatency(latencies(5000, 4, 0), latencies(800, 300, 1), 'key-this-step', 2, 1).verdict).toBe('too-few-requests');
    expect(compareLatency(latencies(5000, 40, 0), undefined, 'none', 2, 1).verdict).toBe('too-few-requests');
    expect(compareLatency(latencies(5000, 6, 0), latencies(800, 300, 1), 'key-this-step', 2, 1).verdict).toBe('breach');
  });

  it('gives the medians and 95th percentiles from the buckets', () => {
    const judged = compareLatency(latencies(800, 30, 0), latencies(800, 30, 0), 'key-whole-canary', 2, 5);
    expect(judged.vertex.p50Ms).toBeGreaterThanOrEqual(800);
    expect(judged.vertex.p50Ms).toBeLessThan(800 * Math.SQRT2);
    expect(judged.baseline).toMatchObject({ source: 'key-whole-canary', count: 30 });
  });
});

describe('the evidence waits, as people read them', () => {
  it('says what a step is missing and how to go on', () => {
    const wait = { kind: 'canary-evidence' as const, step: 1, of: 3, percent: 10, vertexRequests: 3, minRequests: 20, bakedMs: 30 * 60_000, since: '2026-11-28T12:00:00.000Z' };
    expect(describeWait(wait)).toBe('evidence at canary step 1/3 (10%): 3 of 20 Vertex requests after 30m; send promote to accept this evidence, or rollback');
    expect(describeNext({ stage: 'canary', paused: false, wait, canary: { step: 1, of: 3, percent: 10 } })).toMatch(/^waiting for evidence at canary step 1\/3/);
  });

  it('says when no run of the pipeline was seen during the soak', () => {
    const wait = { kind: 'pipeline-run' as const, vertexRequests: 0, minVertexRequests: 1, since: '2026-11-28T12:00:00.000Z' };
    expect(describeNext({ stage: 'soak', paused: false, wait })).toMatch(/^waiting for a run of the pipeline: none seen during the soak since 2026-11-28T12:00:00.000Z/);
  });

  it('says how far a step\'s evidence is while it bakes, and after its bake', () => {
    const canary = { step: 2, of: 3, percent: 50 };
    expect(describeNext({ stage: 'canary', paused: false, canary, bakeEndsAt: '2026-11-28T12:00:00.000Z', evidence: { vertexRequests: 4, minRequests: 20, bakeDone: false, bakedMs: 60_000 } })).toBe(
      'canary step 2/3 at 50% on Vertex: baking until 2026-11-28T12:00:00.000Z (4 of 20 Vertex requests judged so far)',
    );
    expect(describeNext({ stage: 'canary', paused: false, canary, evidence: { vertexRequests: 4, minRequests: 20, bakeDone: true, bakedMs: 30 * 60_000, waitsUntil: '2026-11-28T14:00:00.000Z' } })).toBe(
      'canary step 2/3 at 50% on Vertex: baked 30m, 4 of 20 Vertex requests judged; baking on for evidence until 2026-11-28T14:00:00.000Z',
    );
  });
});
