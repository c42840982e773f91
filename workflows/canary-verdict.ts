// The canary's verdict on one analysis, as a pure function: Vertex's error rate against a baseline,
// with room for sampling noise. Kept apart from the stage code so it can be checked number by number.

import type { CanaryAnalysis } from '../contracts/status';

export interface TrafficSide {
  requests: number;
  errors: number;
  errorRate: number;
}

export type CanaryBaseline = NonNullable<CanaryAnalysis['baseline']> & { errors: number };

export interface CanaryInputs {
  vertex: TrafficSide;
  /** The key's traffic in this step. */
  keyThisStep: TrafficSide;
  /** The key's traffic since the canary began. */
  keyWholeCanary: TrafficSide;
  /** The key is already rejected by Google: its errors are no baseline. */
  repair: boolean;
  minRequests: number;
  maxErrorRateDelta: number;
}

export interface CanaryJudgement {
  baseline: CanaryBaseline;
  delta: number;
  allowedDelta: number;
  verdict: CanaryAnalysis['verdict'];
}

const NONE: CanaryBaseline = { source: 'none', requests: 0, errors: 0, errorRate: 0 };

export function judgeCanary(input: CanaryInputs): CanaryJudgement {
  const baseline = canaryBaseline(input);
  const delta = input.vertex.errorRate - baseline.errorRate;
  const allowedDelta = input.maxErrorRateDelta + 3 * standardErrorOfDifference(input.vertex, baseline);
  const verdict = input.vertex.requests < input.minRequests ? 'too-few-requests' : delta > allowedDelta ? 'breach' : 'healthy';
  return { baseline, delta, allowedDelta, verdict };
}

/**
 * What Vertex's error rate is held against. The key's own rate in this step when it had enough
 * requests; else its rate over the whole canary (at 100 % the key gets no requests, and 0 % would
 * make an outage of both paths look like Vertex's fault); else nothing.
 */
function canaryBaseline(input: CanaryInputs): CanaryBaseline {
  const enough = Math.max(1, input.minRequests);
  if (input.repair) return NONE;
  if (input.keyThisStep.requests >= enough) return { source: 'key-this-step', ...side(input.keyThisStep) };
  if (input.keyWholeCanary.requests >= enough) return { source: 'key-whole-canary', ...side(input.keyWholeCanary) };
  return NONE;
}

/**
 * Three of these over maxErrorRateDelta is the breach line: with equal 25 % error rates on both
 * paths and 200 requests each, a fixed 2-point gate called a breach in about a third of analyses.
 * Against no baseline (a fixed 0 %), only Vertex's own sampling error counts.
 */
function standardErrorOfDifference(vertex: TrafficSide, baseline: CanaryBaseline): number {
  if (vertex.requests === 0) return 0;
  if (baseline.source === 'none') return Math.sqrt((vertex.errorRate * (1 - vertex.errorRate)) / vertex.requests);
  const pooled = (vertex.errors + baseline.errors) / (vertex.requests + baseline.requests);
  return Math.sqrt(pooled * (1 - pooled) * (1 / vertex.requests + 1 / baseline.requests));
}

function side(s: TrafficSide): TrafficSide {
  return { requests: s.requests, errors: s.errors, errorRate: s.errorRate };
}
