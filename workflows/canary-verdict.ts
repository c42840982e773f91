// The canary's verdict on one analysis, as a pure function: Vertex's error rate against a baseline,
// with room for sampling noise; since the evidence patch, by class (a broken identity, server
// errors, quota) and with latency. Kept apart from the stage code so it can be checked number by number.

import type { CredentialTraffic } from '../contracts/reports';
import type { BreachKind, CanaryAnalysis, LatencyJudgement, ResponseClasses } from '../contracts/status';
import { MIN_LATENCY_SAMPLES, compareLatency } from './latency-comparison';

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

// ---- judged on evidence: error classes, quota and latency -------------------------------------

/** One credential's traffic as the evidence judgement reads it: counts per method and code, and latencies. */
export type EvidenceSide = Pick<CredentialTraffic, 'requests' | 'byMethod' | 'latency'>;

export interface EvidenceInputs {
  /** Vertex in the window being judged (the step, or a watched gate's window). */
  vertex: EvidenceSide;
  /** The key in the same window. */
  keyThisStep: EvidenceSide;
  /** The key since the canary began. */
  keyWholeCanary: EvidenceSide;
  /** The key over the week before the canary: the baseline of a job whose canary leaves it no traffic. */
  keyBeforeCanary?: EvidenceSide;
  repair: boolean;
  minRequests: number;
  maxErrorRateDelta: number;
  maxLatencyRatio: number;
}

export interface EvidenceJudgement {
  verdict: CanaryAnalysis['verdict'];
  breach?: BreachKind;
  /** Vertex's and the baseline's error rates, of server errors and models not found. */
  vertex: TrafficSide;
  key: TrafficSide;
  baseline: CanaryBaseline;
  delta: number;
  allowedDelta: number;
  classes: { key: ResponseClasses; vertex: ResponseClasses };
  quota: NonNullable<CanaryAnalysis['quota']>;
  latency: LatencyJudgement;
}

/** The classes of one side's responses, from Monitoring's per-method counts. */
export function responseClasses(side: Pick<CredentialTraffic, 'byMethod'>): ResponseClasses {
  const classes: ResponseClasses = { ok: 0, identity: 0, quota: 0, server: 0, notFound: 0, other: 0 };
  for (const m of side.byMethod) {
    const code = Number(m.responseCode);
    if (code >= 200 && code < 400) classes.ok += m.requests;
    else if (code === 401 || code === 403) classes.identity += m.requests;
    else if (code === 429) classes.quota += m.requests;
    else if (code >= 500) classes.server += m.requests;
    else if (code === 404) classes.notFound += m.requests;
    else classes.other += m.requests;
  }
  return classes;
}

/**
 * The canary's verdict on one window. A 401 or 403 on Vertex is a broken identity (the account
 * lost its role, or the job runs as someone else): a breach at once, whatever the counts. Then,
 * once Vertex has minRequests requests, each of server errors (5xx and 404), quota (429) and
 * latency is held against the baseline; the first that breaches names the breach.
 */
export function judgeEvidence(input: EvidenceInputs): EvidenceJudgement {
  const classes = { key: responseClasses(input.keyThisStep), vertex: responseClasses(input.vertex) };
  const vertex = failures(input.vertex);
  const baselineSide = evidenceBaseline(input);
  const baseline: CanaryBaseline = baselineSide ? { source: baselineSide.source, ...failures(baselineSide.side) } : NONE;
  const delta = vertex.errorRate - baseline.errorRate;
  const allowedDelta = input.maxErrorRateDelta + 3 * standardErrorOfDifference(vertex, baseline);

  const vertexQuota = quotaSide(input.vertex);
  const baselineQuota = baselineSide ? quotaSide(baselineSide.side) : { requests: 0, errors: 0, errorRate: 0 };
  const quotaBaseline: CanaryBaseline = baselineSide ? { source: baselineSide.source, ...baselineQuota } : NONE;
  const quotaAllowed = input.maxErrorRateDelta + 3 * standardErrorOfDifference(vertexQuota, quotaBaseline);
  const quota = { vertexRate: vertexQuota.errorRate, baselineRate: baselineQuota.errorRate, allowedDelta: quotaAllowed };

  const latencyBaseline = latencyBaselineOf(input);
  const latency = compareLatency(input.vertex.latency, latencyBaseline?.side.latency, latencyBaseline?.source ?? 'none', input.maxLatencyRatio, input.minRequests);

  const judged = { vertex, key: failures(input.keyThisStep), baseline, delta, allowedDelta, classes, quota, latency };
  if (classes.vertex.identity > 0) return { ...judged, verdict: 'breach', breach: 'identity' };
  if (input.vertex.requests < Math.max(1, input.minRequests)) return { ...judged, verdict: 'too-few-requests' };
  if (delta > allowedDelta) return { ...judged, verdict: 'breach', breach: 'error-rate' };
  if (vertexQuota.errorRate - baselineQuota.errorRate > quotaAllowed) return { ...judged, verdict: 'breach', breach: 'quota' };
  if (latency.verdict === 'breach') return { ...judged, verdict: 'breach', breach: 'latency' };
  return { ...judged, verdict: 'healthy' };
}

type EvidenceBaselineSource = 'key-this-step' | 'key-whole-canary' | 'key-before-canary';

/** As canaryBaseline, with the key's week before the canary as the last resort before none. */
function evidenceBaseline(input: EvidenceInputs): { source: EvidenceBaselineSource; side: EvidenceSide } | undefined {
  if (input.repair) return undefined;
  const enough = Math.max(1, input.minRequests);
  const candidates: [EvidenceBaselineSource, EvidenceSide | undefined][] = [
    ['key-this-step', input.keyThisStep],
    ['key-whole-canary', input.keyWholeCanary],
    ['key-before-canary', input.keyBeforeCanary],
  ];
  for (const [source, side] of candidates) if (side && side.requests >= enough) return { source, side };
  return undefined;
}

/** The first side with enough successful requests' latencies, in the same order. */
function latencyBaselineOf(input: EvidenceInputs): { source: EvidenceBaselineSource; side: EvidenceSide } | undefined {
  if (input.repair) return undefined;
  const enough = Math.max(MIN_LATENCY_SAMPLES, input.minRequests);
  const candidates: [EvidenceBaselineSource, EvidenceSide | undefined][] = [
    ['key-this-step', input.keyThisStep],
    ['key-whole-canary', input.keyWholeCanary],
    ['key-before-canary', input.keyBeforeCanary],
  ];
  for (const [source, side] of candidates) if (side?.latency && side.latency.count >= enough) return { source, side };
  return undefined;
}

/** Requests that failed for the path's own reasons: server errors and models not found. */
function failures(side: EvidenceSide): TrafficSide {
  const c = responseClasses(side);
  const errors = c.server + c.notFound;
  return { requests: side.requests, errors, errorRate: side.requests === 0 ? 0 : errors / side.requests };
}

function quotaSide(side: EvidenceSide): TrafficSide {
  const errors = responseClasses(side).quota;
  return { requests: side.requests, errors, errorRate: side.requests === 0 ? 0 : errors / side.requests };
}
