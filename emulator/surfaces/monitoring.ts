// Cloud Monitoring for the traffic the Gemini and Vertex surfaces serve: every request is counted
// into per-minute buckets per label set (bounded), with its latency in a distribution, and
// `projects.timeSeries.list` answers `serviceruntime.googleapis.com/api/request_count` (INT64) and
// `…/api/request_latencies` (DISTRIBUTION, seconds) on the `consumed_api` resource with Google's
// filter, interval and aggregation semantics: per-credential volumes, error rates and latencies.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import { GoogleApiError, invalidArgument } from '../core/errors';
import type { GenerativeContext, GenerativeState, TrafficBucket, TrafficLabels } from './generative-context';
import { bearerPrincipal, policyMembersOf } from './generative-common';

export const REQUEST_COUNT_METRIC = 'serviceruntime.googleapis.com/api/request_count';
export const REQUEST_LATENCIES_METRIC = 'serviceruntime.googleapis.com/api/request_latencies';
const METRIC_TYPES = [REQUEST_COUNT_METRIC, REQUEST_LATENCIES_METRIC] as const;
type MetricType = (typeof METRIC_TYPES)[number];

/**
 * The request_latencies buckets, in seconds. Google does not publish the layout serviceruntime
 * uses; this is an exponential one as its distributions are, fine enough (each bucket √2 wide)
 * that a latency ratio of 1.5 to 2 shows: 1 ms to about 17 minutes in 40 finite buckets.
 */
export const LATENCY_BUCKET_OPTIONS = { exponentialBuckets: { numFiniteBuckets: 40, growthFactor: Math.SQRT2, scale: 0.001 } } as const;
const RESOURCE_TYPE = 'consumed_api';
const MINUTE_MS = 60_000;
/** Buckets older than this are dropped: Monitoring's own retention for this metric is 6 weeks. */
const RETENTION_MS = 42 * 24 * 3600_000;
/** A hard cap on stored buckets, so a long demo cannot grow the state file without bound. */
const MAX_BUCKETS = 50_000;

/** One served request, as the Gemini and Vertex surfaces report it. */
export interface TrafficSample {
  time: Date;
  project: string;
  service: 'generativelanguage.googleapis.com' | 'aiplatform.googleapis.com';
  method: string;
  version: string;
  location: string;
  /** `apikey:<key uid>`, `serviceaccount:<uniqueId>`, or '' when no credential was resolved. */
  credentialId: string;
  responseCode: number;
  latencyMs: number;
  /** Identical requests this sample stands for (default 1). */
  count?: number;
}

const RESOURCE_LABELS = ['project_id', 'service', 'method', 'version', 'location', 'credential_id'] as const;
const METRIC_LABELS = ['protocol', 'response_code', 'response_code_class', 'grpc_status_code'] as const;

const GRPC_CODE_OF_HTTP: Record<number, string> = {
  200: '0', 400: '3', 401: '16', 403: '7', 404: '5', 409: '10', 412: '9', 429: '8', 499: '1', 500: '13', 501: '12', 503: '14', 504: '4',
};

/** Buckets by their full key, and by credential (most queries name one or two credentials). */
interface TrafficIndex {
  byKey: Map<string, TrafficBucket>;
  byCredential: Map<string, Set<TrafficBucket>>;
}

const indexes = new WeakMap<GenerativeState, TrafficIndex>();

function indexOf(state: GenerativeState): TrafficIndex {
  let index = indexes.get(state);
  if (!index) {
    index = { byKey: new Map(), byCredential: new Map() };
    for (const bucket of state.traffic) addToIndex(index, bucket);
    indexes.set(state, index);
  }
  return index;
}

function addToIndex(index: TrafficIndex, bucket: TrafficBucket): void {
  index.byKey.set(bucketKey(bucket.minute, bucket.labels), bucket);
  let buckets = index.byCredential.get(bucket.labels.credential_id);
  if (!buckets) index.byCredential.set(bucket.labels.credential_id, (buckets = new Set()));
  buckets.add(bucket);
}

function removeFromIndex(index: TrafficIndex, bucket: TrafficBucket): void {
  index.byKey.delete(bucketKey(bucket.minute, bucket.labels));
  const buckets = index.byCredential.get(bucket.labels.credential_id);
  buckets?.delete(bucket);
  if (buckets?.size === 0) index.byCredential.delete(bucket.labels.credential_id);
}

function bucketKey(minute: number, l: TrafficLabels): string {
  return `${minute}\u0001${l.project_id}\u0001${l.service}\u0001${l.method}\u0001${l.version}\u0001${l.location}\u0001${l.credential_id}\u0001${l.response_code}\u0001${l.protocol}`;
}

/** Counts one request. */
export function recordTraffic(ctx: Pick<GenerativeContext, 'state' | 'markDirty'>, sample: TrafficSample): void {
  const minute = Math.floor(sample.time.getTime() / MINUTE_MS) * MINUTE_MS;
  const labels: TrafficLabels = {
    project_id: sample.project,
    service: sample.service,
    method: sample.method,
    version: sample.version,
    location: sample.location,
    credential_id: sample.credentialId,
    response_code: String(sample.responseCode),
    response_code_class: `${Math.floor(sample.responseCode / 100)}xx`,
    protocol: 'http',
  };
  const index = indexOf(ctx.state);
  const count = sample.count ?? 1;
  let bucket = index.byKey.get(bucketKey(minute, labels));
  if (!bucket) {
    bucket = { minute, labels, count: 0, latencyMsSum: 0, latencyMsSumSquares: 0, latencyBuckets: {} };
    ctx.state.traffic.push(bucket);
    addToIndex(index, bucket);
    pruneTraffic(ctx.state, index, minute);
  }
  // A bucket from a state file written before latencies were kept stays out of request_latencies.
  const withLatency = bucket.latencyBuckets !== undefined;
  bucket.count += count;
  bucket.latencyMsSum += sample.latencyMs * count;
  if (withLatency) {
    bucket.latencyMsSumSquares = (bucket.latencyMsSumSquares ?? 0) + sample.latencyMs * sample.latencyMs * count;
    const i = String(latencyBucketIndex(sample.latencyMs / 1000));
    bucket.latencyBuckets![i] = (bucket.latencyBuckets![i] ?? 0) + count;
  }
  ctx.markDirty();
}

/** The bucket number of a latency in seconds: 0 underflow, 1..N finite, N+1 overflow (Google's numbering). */
export function latencyBucketIndex(seconds: number): number {
  const { numFiniteBuckets, growthFactor, scale } = LATENCY_BUCKET_OPTIONS.exponentialBuckets;
  if (!(seconds >= scale)) return 0;
  return Math.min(numFiniteBuckets + 1, Math.floor(Math.log(seconds / scale) / Math.log(growthFactor)) + 1);
}

function pruneTraffic(state: GenerativeState, index: TrafficIndex, newest: number): void {
  const oldestKept = newest - RETENTION_MS;
  const first = state.traffic[0];
  if (state.traffic.length <= MAX_BUCKETS && (!first || first.minute >= oldestKept)) return;
  // Buckets are appended in time order (the clock may jump back in tests; sorting keeps that correct).
  state.traffic.sort((a, b) => a.minute - b.minute);
  let drop = 0;
  while (drop < state.traffic.length && (state.traffic[drop]!.minute < oldestKept || state.traffic.length - drop > MAX_BUCKETS)) drop++;
  for (const bucket of state.traffic.splice(0, drop)) removeFromIndex(index, bucket);
}

/** The Cloud Monitoring routes. */
export function monitoringRoutes(ctx: GenerativeContext): RouteDef[] {
  return [
    {
      method: 'GET',
      pattern: /^\/v3\/projects\/(?<project>[^/]+)\/timeSeries$/,
      surface: 'monitoring',
      handler: (req) => listTimeSeries(ctx, req),
    },
  ];
}

// ---- filter -------------------------------------------------------------------------------

type Matcher =
  | { kind: 'eq'; value: string }
  | { kind: 'has'; value: string }
  | { kind: 'starts'; value: string }
  | { kind: 'ends'; value: string }
  | { kind: 'oneOf'; values: string[] }
  | { kind: 'regex'; re: RegExp };

type Filter =
  | { op: 'and' | 'or'; left: Filter; right: Filter }
  | { op: 'not'; expr: Filter }
  | { op: 'cmp'; selector: string; negate: boolean; matcher: Matcher };

type Token = { t: 'id' | 'str' | 'op' | 'punct'; v: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let v = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
      if (i >= text.length) throw new Error('unterminated string');
      i++;
      tokens.push({ t: 'str', v });
    } else if (text.startsWith('!=', i) || text.startsWith('=~', i)) {
      tokens.push({ t: 'op', v: text.slice(i, i + 2) });
      i += 2;
    } else if (c === '=' || c === ':') {
      tokens.push({ t: 'op', v: c });
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else if (/[A-Za-z0-9_./-]/.test(c)) {
      let v = '';
      while (i < text.length && /[A-Za-z0-9_./-]/.test(text[i]!)) v += text[i++];
      tokens.push({ t: 'id', v });
    } else {
      throw new Error(`unexpected character '${c}'`);
    }
  }
  return tokens;
}

/** Parses Monitoring's filter language (the subset keyless and operators use). */
export function parseFilter(text: string): Filter {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (t: Token['t'], v?: string): Token => {
    const token = tokens[pos];
    if (!token || token.t !== t || (v !== undefined && token.v !== v)) throw new Error(`expected ${v ?? t} at token ${pos + 1}`);
    pos++;
    return token;
  };
  const orExpr = (): Filter => {
    let left = andExpr();
    while (peek()?.t === 'id' && peek()!.v === 'OR') {
      pos++;
      left = { op: 'or', left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): Filter => {
    let left = unary();
    for (;;) {
      const next = peek();
      if (next?.t === 'id' && next.v === 'AND') pos++;
      else if (!next || (next.t === 'id' && next.v === 'OR') || (next.t === 'punct' && next.v === ')')) break;
      // Juxtaposition means AND in Monitoring filters.
      left = { op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Filter => {
    const next = peek();
    if (next?.t === 'id' && next.v === 'NOT') {
      pos++;
      return { op: 'not', expr: unary() };
    }
    if (next?.t === 'punct' && next.v === '(') {
      pos++;
      const inner = orExpr();
      expect('punct', ')');
      return inner;
    }
    return comparison();
  };
  const stringArgs = (): string[] => {
    expect('punct', '(');
    const values = [expect('str').v];
    while (peek()?.t === 'punct' && peek()!.v === ',') {
      pos++;
      values.push(expect('str').v);
    }
    expect('punct', ')');
    return values;
  };
  const comparison = (): Filter => {
    const selector = expect('id').v;
    if (!/^(metric\.type|resource\.type|project|(metric|resource)\.labels?\.[A-Za-z0-9_]+)$/.test(selector)) {
      throw new Error(`unknown selector '${selector}'`);
    }
    const op = expect('op').v;
    const negate = op === '!=';
    let matcher: Matcher;
    const value = tokens[pos];
    if (op === '=~') {
      matcher = { kind: 'regex', re: new RegExp(`^(?:${expect('str').v})$`) };
    } else if (value?.t === 'str') {
      pos++;
      matcher = op === ':' ? { kind: 'has', value: value.v } : { kind: 'eq', value: value.v };
    } else if (value?.t === 'id' && op !== ':') {
      pos++;
      const args = stringArgs();
      switch (value.v) {
        case 'starts_with':
          matcher = { kind: 'starts', value: args[0]! };
          break;
        case 'ends_with':
          matcher = { kind: 'ends', value: args[0]! };
          break;
        case 'has_substring':
          matcher = { kind: 'has', value: args[0]! };
          break;
        case 'one_of':
          matcher = { kind: 'oneOf', values: args };
          break;
        case 'monitoring.regex.full_match':
          matcher = { kind: 'regex', re: new RegExp(`^(?:${args[0]!})$`) };
          break;
        default:
          throw new Error(`unknown function '${value.v}'`);
      }
    } else {
      throw new Error(`expected a value after '${selector} ${op}'`);
    }
    return { op: 'cmp', selector: selector.replace('.label.', '.labels.'), negate, matcher };
  };
  const filter = orExpr();
  if (pos !== tokens.length) throw new Error(`unexpected '${tokens[pos]!.v}'`);
  return filter;
}

function matches(matcher: Matcher, value: string | undefined): boolean {
  const v = value ?? '';
  switch (matcher.kind) {
    case 'eq':
      return v === matcher.value;
    case 'has':
      return v.includes(matcher.value);
    case 'starts':
      return v.startsWith(matcher.value);
    case 'ends':
      return v.endsWith(matcher.value);
    case 'oneOf':
      return matcher.values.includes(v);
    case 'regex':
      return matcher.re.test(v);
  }
}

interface SeriesView {
  metricType: string;
  resourceType: string;
  project: { id: string; number: string };
  resource: Record<string, string>;
  metric: Record<string, string>;
}

function evaluate(filter: Filter, s: SeriesView): boolean {
  switch (filter.op) {
    case 'and':
      return evaluate(filter.left, s) && evaluate(filter.right, s);
    case 'or':
      return evaluate(filter.left, s) || evaluate(filter.right, s);
    case 'not':
      return !evaluate(filter.expr, s);
    case 'cmp': {
      let hit: boolean;
      if (filter.selector === 'project') hit = matches(filter.matcher, s.project.id) || matches(filter.matcher, s.project.number);
      else {
        const value =
          filter.selector === 'metric.type'
            ? s.metricType
            : filter.selector === 'resource.type'
              ? s.resourceType
              : filter.selector.startsWith('resource.labels.')
                ? s.resource[filter.selector.slice('resource.labels.'.length)]
                : s.metric[filter.selector.slice('metric.labels.'.length)];
        hit = matches(filter.matcher, value);
      }
      return filter.negate ? !hit : hit;
    }
  }
}

/**
 * The credential ids a series must have to pass the filter, when the filter pins them
 * (`resource.labels.credential_id = "…"` or `= one_of(…)` under ANDs); undefined when it does not.
 */
function pinnedCredentials(filter: Filter): Set<string> | undefined {
  switch (filter.op) {
    case 'cmp':
      if (filter.selector !== 'resource.labels.credential_id' || filter.negate) return undefined;
      if (filter.matcher.kind === 'eq') return new Set([filter.matcher.value]);
      if (filter.matcher.kind === 'oneOf') return new Set(filter.matcher.values);
      return undefined;
    case 'and': {
      const left = pinnedCredentials(filter.left);
      const right = pinnedCredentials(filter.right);
      if (!left || !right) return left ?? right;
      return new Set([...left].filter((c) => right.has(c)));
    }
    case 'or': {
      const left = pinnedCredentials(filter.left);
      const right = pinnedCredentials(filter.right);
      return left && right ? new Set([...left, ...right]) : undefined;
    }
    case 'not':
      return undefined;
  }
}

/** The buckets a query must look at: those of the pinned credentials, else all of them. */
function candidateBuckets(state: GenerativeState, filter: Filter): Iterable<TrafficBucket> {
  const credentials = pinnedCredentials(filter);
  if (!credentials) return state.traffic;
  const index = indexOf(state);
  const candidates: TrafficBucket[] = [];
  for (const credential of credentials) for (const bucket of index.byCredential.get(credential) ?? []) candidates.push(bucket);
  return candidates;
}

function mentionsMetricType(filter: Filter): boolean {
  if (filter.op === 'cmp') return filter.selector === 'metric.type';
  if (filter.op === 'not') return mentionsMetricType(filter.expr);
  return mentionsMetricType(filter.left) || mentionsMetricType(filter.right);
}

// ---- aggregation ---------------------------------------------------------------------------

const ALIGNERS: Record<string, string> = {
  '0': 'ALIGN_NONE', '1': 'ALIGN_DELTA', '2': 'ALIGN_RATE', '10': 'ALIGN_MIN', '11': 'ALIGN_MAX', '12': 'ALIGN_MEAN', '13': 'ALIGN_COUNT', '14': 'ALIGN_SUM',
  '18': 'ALIGN_PERCENTILE_99', '19': 'ALIGN_PERCENTILE_95', '20': 'ALIGN_PERCENTILE_50', '21': 'ALIGN_PERCENTILE_05',
};
const REDUCERS: Record<string, string> = {
  '0': 'REDUCE_NONE', '1': 'REDUCE_MEAN', '2': 'REDUCE_MIN', '3': 'REDUCE_MAX', '4': 'REDUCE_SUM', '6': 'REDUCE_COUNT',
};
const PERCENTILE_OF: Record<string, number> = { ALIGN_PERCENTILE_99: 0.99, ALIGN_PERCENTILE_95: 0.95, ALIGN_PERCENTILE_50: 0.5, ALIGN_PERCENTILE_05: 0.05 };
/** What Google accepts on a DELTA DISTRIBUTION metric; the numeric-only aligners and reducers it refuses. */
const DISTRIBUTION_ALIGNERS = ['ALIGN_NONE', 'ALIGN_DELTA', 'ALIGN_SUM', ...Object.keys(PERCENTILE_OF)];

function enumName(raw: string | null, table: Record<string, string>, field: string, fallback: string): string {
  if (raw === null || raw === '') return fallback;
  const name = table[raw] ?? (Object.values(table).includes(raw) ? raw : undefined);
  if (!name) throw invalidArgument(`Field ${field} had an invalid value of "${raw}": unsupported in this emulator or unknown.`);
  return name;
}

function parseTime(raw: string | null, field: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw invalidArgument(`Field ${field} had an invalid value of "${raw}": Invalid timestamp.`);
  return ms;
}

function parseDuration(raw: string | null, field: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(raw);
  if (!m || Number(m[1]) <= 0) throw invalidArgument(`Field ${field} had an invalid value of "${raw}": Invalid duration.`);
  return Math.round(Number(m[1]) * 1000);
}

/** A latency distribution being summed: count, sums in milliseconds, counts per bucket number. */
interface Dist {
  count: number;
  sumMs: number;
  sumSquaresMs: number;
  buckets: Map<number, number>;
}

/** A point's value: a count (request_count) or a distribution (request_latencies), until aligned. */
type Value = number | Dist;

interface Series {
  metricType: MetricType;
  resource: Record<string, string>;
  metric: Record<string, string>;
  buckets: { minute: number; value: Value }[];
}

interface OutPoint {
  start: number;
  end: number;
  value: Value;
}

function emptyDist(): Dist {
  return { count: 0, sumMs: 0, sumSquaresMs: 0, buckets: new Map() };
}

function addDist(into: Dist, more: Dist): Dist {
  into.count += more.count;
  into.sumMs += more.sumMs;
  into.sumSquaresMs += more.sumSquaresMs;
  for (const [i, n] of more.buckets) into.buckets.set(i, (into.buckets.get(i) ?? 0) + n);
  return into;
}

function distOf(bucket: TrafficBucket): Dist | undefined {
  if (!bucket.latencyBuckets) return undefined;
  const buckets = new Map(Object.entries(bucket.latencyBuckets).map(([i, n]) => [Number(i), n] as const));
  return { count: bucket.count, sumMs: bucket.latencyMsSum, sumSquaresMs: bucket.latencyMsSumSquares ?? 0, buckets };
}

/** The value at quantile `q` of a distribution in seconds, interpolated linearly within its bucket. */
function percentileSeconds(dist: Dist, q: number): number {
  const { numFiniteBuckets, growthFactor, scale } = LATENCY_BUCKET_OPTIONS.exponentialBuckets;
  if (dist.count === 0) return 0;
  const rank = q * dist.count;
  let seen = 0;
  for (const i of [...dist.buckets.keys()].sort((a, b) => a - b)) {
    const n = dist.buckets.get(i)!;
    if (seen + n >= rank) {
      const lower = i === 0 ? 0 : scale * growthFactor ** (i - 1);
      const upper = i > numFiniteBuckets ? lower : scale * growthFactor ** i;
      return lower + ((rank - seen) / n) * (upper - lower);
    }
    seen += n;
  }
  return scale * growthFactor ** numFiniteBuckets;
}

/** Roles that hold monitoring.timeSeries.list, as Google's predefined roles do. */
const TIME_SERIES_READERS = ['roles/monitoring.viewer', 'roles/monitoring.editor', 'roles/monitoring.admin', 'roles/viewer', 'roles/editor', 'roles/owner'] as const;

function listTimeSeries(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const principal = bearerPrincipal(ctx, req, 'monitoring.googleapis.com', 'google.monitoring.v3.MetricService.ListTimeSeries');
  const projectParam = req.params.project!;
  const project = ctx.resolveProject(projectParam);
  // Traffic names every caller's account and key: only a principal with the permission may read it.
  if (!project || !ctx.hasProjectRole(project.projectId, policyMembersOf(principal), TIME_SERIES_READERS).granted) {
    throw new GoogleApiError('PERMISSION_DENIED', `Permission monitoring.timeSeries.list denied (or the resource may not exist).`, {
      reason: 'IAM_PERMISSION_DENIED',
      domain: 'iam.googleapis.com',
      metadata: { permission: 'monitoring.timeSeries.list' },
    });
  }
  const q = req.query;
  const filterText = q.get('filter');
  if (!filterText) throw invalidArgument('Field filter had an invalid value of "": A filter must specify a metric type.');
  let filter: Filter;
  try {
    filter = parseFilter(filterText);
  } catch (err) {
    throw invalidArgument(`Field filter had an invalid value of "${filterText}": ${(err as Error).message}.`);
  }
  if (!mentionsMetricType(filter)) {
    throw invalidArgument(`Field filter had an invalid value of "${filterText}": A filter must specify a metric type.`);
  }
  const end = parseTime(q.get('interval.endTime'), 'interval.endTime');
  if (end === undefined) throw invalidArgument('Field interval.endTime had an invalid value of "": The end time is required.');
  const start = parseTime(q.get('interval.startTime'), 'interval.startTime') ?? end - MINUTE_MS;
  if (start > end) {
    throw invalidArgument('Field interval.startTime had an invalid value: The start time must be before the end time.');
  }
  const aligner = enumName(q.get('aggregation.perSeriesAligner'), ALIGNERS, 'aggregation.perSeriesAligner', 'ALIGN_NONE');
  const reducer = enumName(q.get('aggregation.crossSeriesReducer'), REDUCERS, 'aggregation.crossSeriesReducer', 'REDUCE_NONE');
  const period = parseDuration(q.get('aggregation.alignmentPeriod'), 'aggregation.alignmentPeriod') ?? MINUTE_MS;
  if (reducer !== 'REDUCE_NONE' && aligner === 'ALIGN_NONE') {
    throw invalidArgument('The aggregation specifies a cross-series reducer but no per-series aligner other than ALIGN_NONE.');
  }
  const groupBy = q.getAll('aggregation.groupByFields').map((f) => f.replace('.label.', '.labels.'));
  for (const field of groupBy) {
    if (!/^(resource|metric)\.labels\.[A-Za-z0-9_]+$/.test(field)) {
      throw invalidArgument(`Field aggregation.groupByFields had an invalid value of "${field}".`);
    }
  }
  const view = q.get('view') ?? 'FULL';
  const headersOnly = view === '1' || view === 'HEADERS';
  const pageSize = Math.min(Math.max(Number(q.get('pageSize') ?? '0') || 100_000, 1), 100_000);
  const offset = decodePageToken(q.get('pageToken'));

  // Raw series: one per metric type and full label set, restricted to the project, the filter and the interval.
  const raw = new Map<string, Series>();
  for (const bucket of candidateBuckets(ctx.state, filter)) {
    if (bucket.labels.project_id !== project.projectId) continue;
    if (bucket.minute + MINUTE_MS <= start || bucket.minute >= end) continue;
    const l = bucket.labels;
    const resource: Record<string, string> = {
      project_id: l.project_id, service: l.service, method: l.method, version: l.version, location: l.location, credential_id: l.credential_id,
    };
    const metric: Record<string, string> = {
      protocol: l.protocol, response_code: l.response_code, response_code_class: l.response_code_class, grpc_status_code: GRPC_CODE_OF_HTTP[Number(l.response_code)] ?? '2',
    };
    for (const metricType of METRIC_TYPES) {
      const value: Value | undefined = metricType === REQUEST_COUNT_METRIC ? bucket.count : distOf(bucket);
      if (value === undefined) continue;
      const seriesView: SeriesView = { metricType, resourceType: RESOURCE_TYPE, project: { id: project.projectId, number: project.projectNumber }, resource, metric };
      if (!evaluate(filter, seriesView)) continue;
      const key = [metricType, ...RESOURCE_LABELS.map((k) => resource[k]), ...METRIC_LABELS.map((k) => metric[k])].join('\u0001');
      let series = raw.get(key);
      if (!series) raw.set(key, (series = { metricType, resource, metric, buckets: [] }));
      series.buckets.push({ minute: bucket.minute, value });
    }
  }
  if (raw.size === 0) return { body: {} };

  const distribution = [...raw.values()].some((s) => s.metricType === REQUEST_LATENCIES_METRIC);
  if (distribution && !DISTRIBUTION_ALIGNERS.includes(aligner)) {
    throw invalidArgument(`Field aggregation.perSeriesAligner had an invalid value of "${aligner}": The aligner cannot be applied to metrics with kind DELTA and value type DISTRIBUTION.`);
  }
  const percentile = PERCENTILE_OF[aligner];
  if (distribution && percentile === undefined && reducer !== 'REDUCE_NONE' && reducer !== 'REDUCE_SUM') {
    throw invalidArgument(`Field aggregation.crossSeriesReducer had an invalid value of "${reducer}": unsupported in this emulator for value type DISTRIBUTION.`);
  }
  const doubleValued = percentile !== undefined || aligner === 'ALIGN_RATE' || aligner === 'ALIGN_MEAN' || reducer === 'REDUCE_MEAN';
  const metricKind = aligner === 'ALIGN_NONE' || aligner === 'ALIGN_DELTA' || aligner === 'ALIGN_SUM' ? 'DELTA' : 'GAUGE';
  const aligned = [...raw.values()].map((s) => ({ metricType: s.metricType, resource: s.resource, metric: s.metric, points: alignSeries(s, aligner, period, end) }));

  let output = aligned;
  if (reducer !== 'REDUCE_NONE') {
    const groups = new Map<string, { metricType: MetricType; resource: Record<string, string>; metric: Record<string, string>; members: OutPoint[][] }>();
    for (const s of aligned) {
      const resource: Record<string, string> = {};
      const metric: Record<string, string> = {};
      for (const field of groupBy) {
        const [kind, , label] = field.split('.') as [string, string, string];
        if (kind === 'resource') resource[label] = s.resource[label] ?? '';
        else metric[label] = s.metric[label] ?? '';
      }
      const key = JSON.stringify([s.metricType, resource, metric]);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { metricType: s.metricType, resource, metric, members: [] }));
      group.members.push(s.points);
    }
    output = [...groups.values()].map((g) => ({ metricType: g.metricType, resource: g.resource, metric: g.metric, points: reduceSeries(g.members, reducer) }));
  }
  output.sort((a, b) => (seriesSortKey(a) < seriesSortKey(b) ? -1 : 1));

  const page = output.slice(offset, offset + pageSize);
  const timeSeries = page.map((s) => {
    const latencies = s.metricType === REQUEST_LATENCIES_METRIC;
    return {
      metric: { type: s.metricType, labels: s.metric },
      resource: { type: RESOURCE_TYPE, labels: s.resource },
      metricKind,
      valueType: doubleValued ? 'DOUBLE' : latencies ? 'DISTRIBUTION' : 'INT64',
      ...(headersOnly
        ? {}
        : {
            points: s.points.map((p) => ({
              interval: { startTime: new Date(p.start).toISOString(), endTime: new Date(p.end).toISOString() },
              value: typeof p.value !== 'number' ? { distributionValue: distributionValue(p.value) } : doubleValued ? { doubleValue: p.value } : { int64Value: String(Math.round(p.value)) },
            })),
          }),
      unit: latencies ? 's' : '1',
    };
  });
  const body: Record<string, unknown> = { timeSeries };
  if (offset + pageSize < output.length) body.nextPageToken = Buffer.from(String(offset + pageSize)).toString('base64url');
  return { body };
}

/** A distribution as Monitoring's REST API writes one: seconds, int64s as strings, trailing empty buckets left out. */
function distributionValue(dist: Dist): Record<string, unknown> {
  const meanMs = dist.count === 0 ? 0 : dist.sumMs / dist.count;
  const squaredDeviationMs = Math.max(0, dist.sumSquaresMs - dist.count * meanMs * meanMs);
  const last = Math.max(-1, ...dist.buckets.keys());
  const bucketCounts = Array.from({ length: last + 1 }, (_, i) => String(dist.buckets.get(i) ?? 0));
  return {
    count: String(dist.count),
    mean: meanMs / 1000,
    sumOfSquaredDeviation: squaredDeviationMs / 1e6,
    bucketOptions: LATENCY_BUCKET_OPTIONS,
    bucketCounts,
  };
}

function seriesSortKey(s: { metricType: string; resource: Record<string, string>; metric: Record<string, string> }): string {
  return JSON.stringify([s.metricType, s.resource, s.metric]);
}

function decodePageToken(token: string | null): number {
  if (!token) return 0;
  const n = Number(Buffer.from(token, 'base64url').toString());
  if (!Number.isInteger(n) || n < 0) throw invalidArgument(`Field pageToken had an invalid value of "${token}".`);
  return n;
}

/** Points of one series, newest first. */
function alignSeries(series: Series, aligner: string, periodMs: number, end: number): OutPoint[] {
  if (aligner === 'ALIGN_NONE') {
    return series.buckets
      .map((b) => ({ start: b.minute, end: b.minute + MINUTE_MS, value: b.value }))
      .sort((a, b) => b.start - a.start);
  }
  const windows = new Map<number, Value[]>();
  for (const b of series.buckets) {
    const k = Math.floor((end - b.minute - 1) / periodMs);
    let values = windows.get(k);
    if (!values) windows.set(k, (values = []));
    values.push(b.value);
  }
  return [...windows.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, values]) => ({ start: end - (k + 1) * periodMs, end: end - k * periodMs, value: alignValues(values, aligner, periodMs) }));
}

function alignValues(values: Value[], aligner: string, periodMs: number): Value {
  if (typeof values[0] !== 'number') {
    const sum = (values as Dist[]).reduce(addDist, emptyDist());
    const percentile = PERCENTILE_OF[aligner];
    return percentile === undefined ? sum : percentileSeconds(sum, percentile);
  }
  const numbers = values as number[];
  const sum = numbers.reduce((x, y) => x + y, 0);
  switch (aligner) {
    case 'ALIGN_RATE':
      return sum / (periodMs / 1000);
    case 'ALIGN_MEAN':
      return sum / numbers.length;
    case 'ALIGN_COUNT':
      return numbers.length;
    case 'ALIGN_MIN':
      return Math.min(...numbers);
    case 'ALIGN_MAX':
      return Math.max(...numbers);
    default:
      return sum;
  }
}

/** Combines aligned series point by point (their windows line up), newest first. */
function reduceSeries(members: OutPoint[][], reducer: string): OutPoint[] {
  const byEnd = new Map<number, { start: number; values: Value[] }>();
  for (const points of members) {
    for (const p of points) {
      let slot = byEnd.get(p.end);
      if (!slot) byEnd.set(p.end, (slot = { start: p.start, values: [] }));
      slot.values.push(p.value);
    }
  }
  return [...byEnd.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([endMs, { start, values }]) => {
      if (typeof values[0] !== 'number') return { start, end: endMs, value: (values as Dist[]).reduce(addDist, emptyDist()) };
      const numbers = values as number[];
      const sum = numbers.reduce((x, y) => x + y, 0);
      const value =
        reducer === 'REDUCE_COUNT'
          ? numbers.length
          : reducer === 'REDUCE_MEAN'
            ? sum / numbers.length
            : reducer === 'REDUCE_MIN'
              ? Math.min(...numbers)
              : reducer === 'REDUCE_MAX'
                ? Math.max(...numbers)
                : sum;
      return { start, end: endMs, value };
    });
}
