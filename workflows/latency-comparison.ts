// Vertex's latency against the key's, from Monitoring's latency distributions, as a pure
// function: a one-sided Mann–Whitney rank test of Vertex against the tolerated ratio times the
// baseline, on the buckets' counts, with the Hodges–Lehmann estimate of the ratio for the reader.
// A rank test uses every request, not one percentile, and needs no assumption about the shape of
// the distributions; it is deterministic (a bootstrap would need randomness in workflow code).

import type { LatencyBucket, LatencyHistogram } from '../contracts/reports';
import type { LatencyJudgement, LatencySummary } from '../contracts/status';

/** How many standard errors past the tolerated ratio a breach is, as for error rates. */
const BREACH_Z = 3;
/**
 * Latencies below this are compared as this: a generateContent takes hundreds of milliseconds,
 * and a difference among answers under 25 ms (a cache, a local emulator) is none a pipeline feels.
 */
const FLOOR_MS = 25;
/** Fewer requests than this on either side cannot show a difference three standard errors wide. */
export const MIN_LATENCY_SAMPLES = 5;

type BaselineSource = LatencyJudgement['baseline']['source'];

/** One bucket reduced to a value: its count at the log of its geometric middle. */
interface Point {
  log: number;
  n: number;
}

/** Compares Vertex's latencies with the baseline's; `minCount` requests on each side before it judges. */
export function compareLatency(vertex: LatencyHistogram | undefined, baseline: LatencyHistogram | undefined, source: BaselineSource, maxRatio: number, minCount: number): LatencyJudgement {
  const judged: LatencyJudgement = {
    vertex: summarize(vertex),
    baseline: { ...summarize(baseline), source },
    ratio: null,
    maxRatio,
    z: null,
    verdict: 'too-few-requests',
  };
  const enough = Math.max(MIN_LATENCY_SAMPLES, minCount);
  if (!vertex || !baseline || source === 'none' || countOf(vertex) < enough || countOf(baseline) < enough) return judged;
  const x = points(vertex.buckets);
  const y = points(baseline.buckets);
  judged.ratio = round(Math.exp(weightedMedianOfDifferences(x, y)));
  judged.z = round(rankZ(x, y, Math.log(maxRatio)));
  judged.verdict = judged.z > BREACH_Z ? 'breach' : 'healthy';
  return judged;
}

/**
 * z of the Mann–Whitney U of x against y shifted by `shift` (on log latencies: y times the
 * ratio), ties counted half and corrected for in the variance, with a continuity correction.
 * Positive: x tends to be slower than y × ratio.
 */
function rankZ(x: Point[], y: Point[], shift: number): number {
  let u = 0;
  const n = sum(x);
  const m = sum(y);
  const values = new Map<number, number>();
  for (const a of x) values.set(key(a.log), (values.get(key(a.log)) ?? 0) + a.n);
  for (const b of y) values.set(key(b.log + shift), (values.get(key(b.log + shift)) ?? 0) + b.n);
  for (const a of x) {
    for (const b of y) {
      const d = key(a.log) - key(b.log + shift);
      u += a.n * b.n * (d > 0 ? 1 : d < 0 ? 0 : 0.5);
    }
  }
  const total = n + m;
  let ties = 0;
  for (const t of values.values()) ties += t * t * t - t;
  const variance = ((n * m) / 12) * (total + 1 - ties / (total * (total - 1)));
  if (!(variance > 0)) return 0;
  const d = u - (n * m) / 2;
  return (Math.sign(d) * Math.max(0, Math.abs(d) - 0.5)) / Math.sqrt(variance);
}

/** The median of every pairwise difference x − y, each pair weighted by its two counts. */
function weightedMedianOfDifferences(x: Point[], y: Point[]): number {
  const pairs: { d: number; w: number }[] = [];
  for (const a of x) for (const b of y) pairs.push({ d: a.log - b.log, w: a.n * b.n });
  pairs.sort((p, q) => p.d - q.d);
  const half = pairs.reduce((s, p) => s + p.w, 0) / 2;
  let seen = 0;
  for (const p of pairs) {
    seen += p.w;
    if (seen >= half) return p.d;
  }
  return 0;
}

function points(buckets: LatencyBucket[]): Point[] {
  return buckets.filter((b) => b.count > 0).map((b) => ({ log: Math.log(Math.max(FLOOR_MS, middleMs(b))), n: b.count }));
}

/** A bucket's representative latency: the geometric middle of its bounds (latency buckets grow exponentially). */
function middleMs(b: LatencyBucket): number {
  if (b.upperMs === null) return Math.max(b.lowerMs, 1) * Math.SQRT2;
  if (b.lowerMs <= 0) return Math.max(b.upperMs / 2, 1e-3);
  return Math.sqrt(b.lowerMs * b.upperMs);
}

function summarize(h: LatencyHistogram | undefined): LatencySummary {
  if (!h || countOf(h) === 0) return { count: h?.count ?? 0, p50Ms: null, p95Ms: null };
  return { count: h.count, p50Ms: quantileMs(h, 0.5), p95Ms: quantileMs(h, 0.95) };
}

/** The upper bound of the bucket holding the quantile (the lower one for the overflow bucket). */
function quantileMs(h: LatencyHistogram, q: number): number {
  const rank = q * countOf(h);
  let seen = 0;
  for (const b of h.buckets) {
    seen += b.count;
    if (seen >= rank) return roundMs(b.upperMs ?? b.lowerMs);
  }
  return roundMs(h.buckets.at(-1)?.upperMs ?? h.buckets.at(-1)?.lowerMs ?? 0);
}

/** Whole milliseconds, but for sub-10 ms latencies, which keep their fraction. */
function roundMs(ms: number): number {
  return ms >= 10 ? Math.round(ms) : round(ms);
}

function countOf(h: LatencyHistogram): number {
  return h.buckets.reduce((s, b) => s + b.count, 0);
}

function sum(points: Point[]): number {
  return points.reduce((s, p) => s + p.n, 0);
}

/** Log latencies compared at a fixed precision, so equal buckets tie whatever the float rounding. */
function key(log: number): number {
  return Math.round(log * 1e9) / 1e9;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
