// The route rules every reader checks before acting on a route document, written once here and
// as data in clients/vectors/route.json (the Python client, keyless_route/route.py, checks the
// same file). Plain functions, no schema library: `keyless exec` starts before every job and
// loading zod alone costs it more than half its start-up budget; contracts/route.ts's RouteSchema
// refines with these same functions. A refusal names the field and the rule, never the value: a
// tampered document may carry anything, a key string included, and must not end up in a
// pipeline's logs.

/** A pipeline's route as every reader accepts it. */
export interface Route {
  pipeline: string;
  /** Only grows: a write older than the stored generation loses. Workflow-time milliseconds. */
  generation: number;
  /** Share of runs or calls that go through Vertex with the service account; the rest use the key. */
  vertexPercent: number;
  project: string;
  location: string;
  serviceAccount: string;
  updatedAt: string;
}

/** A route document larger than this is refused, and a read stops once it is past it. */
export const MAX_ROUTE_BYTES = 16 * 1024;
/** Generations are workflow-time milliseconds; one later than the reader's clock plus this is refused. */
export const MAX_GENERATION_AHEAD_MS = 24 * 60 * 60 * 1000;

export const ROUTE_FIELDS = ['pipeline', 'generation', 'vertexPercent', 'project', 'location', 'serviceAccount', 'updatedAt'] as const;

export const PIPELINE_RE = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
export const PROJECT_RE = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export const LOCATION_RE = /^[a-z]+(-[a-z]+[0-9]+)?$/;
export const ACCOUNT_RE = /^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

export const PIPELINE_RULE = 'must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen';
export const PROJECT_RULE = 'must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter';
export const LOCATION_RULE = 'must be "global", a multi-region such as "us", or a region such as "us-central1"';
export const ACCOUNT_RULE = 'must be <accountId>@<project>.iam.gserviceaccount.com with a 6-30 character account id';

/** A route document broke a rule; `field` names where ('(document)' for the whole of it). */
export class RouteRefused extends Error {
  override readonly name = 'RouteRefused';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(field === '(document)' ? `route document refused: ${reason}` : `route document refused: ${field} ${reason}`);
  }
}

/** What a reader pins beyond the pipeline it asked for. */
export interface RouteExpectation {
  project?: string;
  /** Allows an account of another project than the route's. */
  serviceAccount?: string;
}

/** Who reads: the pipeline it asked for, its clock and what it pins. */
export interface RouteDocumentContext {
  /** The pipeline the reader asked for. */
  pipeline: string;
  nowMs: number;
  expect?: RouteExpectation;
}

/** As RouteDocumentContext, with the pipeline optional: a writer checking its own route asks for none. */
export type RouteRecordContext = Omit<RouteDocumentContext, 'pipeline'> & { pipeline?: string };

/** Checks a route document's bytes against every rule; throws RouteRefused. */
export function parseRouteDocument(data: Uint8Array | string, context: RouteDocumentContext): Route {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  if (bytes.byteLength > MAX_ROUTE_BYTES) throw new RouteRefused('(document)', `is larger than ${MAX_ROUTE_BYTES / 1024} KiB`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RouteRefused('(document)', 'is not UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the document around the error: never repeat it.
    throw new RouteRefused('(document)', 'is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RouteRefused('(document)', 'is not a JSON object');
  // Two parsers may keep different copies of a repeated field (JSON.parse keeps the last).
  if (repeatsTopLevelField(text)) throw new RouteRefused('(document)', 'repeats a field');
  return checkRouteRecord(doc as Record<string, unknown>, context);
}

/**
 * Checks an already parsed route against every rule but the document's own (size, JSON, repeated
 * fields); throws RouteRefused. Without `context.pipeline` any valid pipeline name passes.
 */
export function checkRouteRecord(record: Record<string, unknown>, context: RouteRecordContext): Route {
  // The field's name is not repeated either: it is the document's content.
  if (Object.keys(record).some((k) => !(ROUTE_FIELDS as readonly string[]).includes(k))) throw new RouteRefused('(document)', 'has a field that is not a route field');
  for (const name of ROUTE_FIELDS) if (!(name in record)) throw new RouteRefused(name, 'is missing');

  const pipeline = record.pipeline;
  if (typeof pipeline !== 'string' || !PIPELINE_RE.test(pipeline)) throw new RouteRefused('pipeline', PIPELINE_RULE);
  const generation = record.generation;
  if (!isInteger(generation) || generation < 0) throw new RouteRefused('generation', 'must be an integer of at least 0');
  if (generation > context.nowMs + MAX_GENERATION_AHEAD_MS) throw new RouteRefused('generation', "is more than a day ahead of this reader's clock");
  const percent = record.vertexPercent;
  if (!isInteger(percent) || percent < 0 || percent > 100) throw new RouteRefused('vertexPercent', 'must be an integer from 0 to 100');
  const project = record.project;
  if (typeof project !== 'string' || !PROJECT_RE.test(project)) throw new RouteRefused('project', PROJECT_RULE);
  const location = record.location;
  if (typeof location !== 'string' || !LOCATION_RE.test(location)) throw new RouteRefused('location', LOCATION_RULE);
  const account = record.serviceAccount;
  const accountMatch = typeof account === 'string' ? ACCOUNT_RE.exec(account) : null;
  if (!accountMatch) throw new RouteRefused('serviceAccount', ACCOUNT_RULE);
  const updatedAt = record.updatedAt;
  if (typeof updatedAt !== 'string' || !validRfc3339(updatedAt)) throw new RouteRefused('updatedAt', 'must be an RFC 3339 date-time such as 2026-11-28T00:15:00Z');

  if (context.pipeline !== undefined && pipeline !== context.pipeline) throw new RouteRefused('pipeline', 'names another pipeline than the one asked for');
  const expect = context.expect ?? {};
  if (expect.project !== undefined && project !== expect.project) throw new RouteRefused('project', 'differs from the project this reader expects');
  if (expect.serviceAccount !== undefined) {
    if (account !== expect.serviceAccount) throw new RouteRefused('serviceAccount', 'differs from the service account this reader expects');
  } else if (accountMatch[2] !== project) {
    throw new RouteRefused('serviceAccount', "belongs to another project than the route's (pin it with expect to allow that)");
  }
  return { pipeline, generation, vertexPercent: percent, project, location, serviceAccount: account as string, updatedAt };
}

/** The first rule a route breaks, or undefined; for schemas that collect problems instead of throwing. */
export function routeProblem(record: Record<string, unknown>, context: RouteRecordContext): RouteRefused | undefined {
  try {
    checkRouteRecord(record, context);
    return undefined;
  } catch (err) {
    if (err instanceof RouteRefused) return err;
    throw err;
  }
}

/** JSON numbers as every reader sees them: 5 and 5.0 are the same integer; true is no number. */
function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function validRfc3339(text: string): boolean {
  const m = RFC3339_RE.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day < 1 || day > days) return false;
  // Second 60 is a leap second, which RFC 3339 allows.
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

/** Whether the top-level object of an already valid JSON text names a field twice. */
function repeatsTopLevelField(text: string): boolean {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (seen.has(key)) return true;
        seen.add(key);
        expectKey = false;
      }
      i = end;
    } else if (ch === '{' || ch === '[') {
      depth += 1;
      if (depth === 1) expectKey = true;
    } else if (ch === '}' || ch === ']') {
      depth -= 1;
    } else if (ch === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return false;
}
