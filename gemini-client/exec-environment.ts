// What `keyless exec` decides before it starts a command, as pure functions: its options, the
// run id, the environments it refuses, and the command's environment for the backend the split
// chose. Behaviour and messages are the Python exec's (clients/python/src/keyless_route/cli.py),
// so a runner may use either and get the same run: same variables, same run id, same stderr line.
// The checks are plain functions rather than zod schemas: exec starts before every job, and
// loading zod alone costs it more than half its start-up budget (test/exec/ covers each rule).

import { isIPv4 } from 'node:net';
import type { RouteView } from './route-cache-core';
import { PIPELINE_RE, PROJECT_RE } from '../contracts/route-rules';

export const EXEC_EXAMPLE = 'keyless exec --pipeline nightly-summarizer --store gs://my-project-keyless-routes --project my-project -- python summarize.py';

/** Variables that hold a Gemini API key, as every google-genai SDK reads them. */
export const KEY_VARIABLES = ['GEMINI_API_KEY', 'GOOGLE_API_KEY'] as const;
/** Variables that make a google-genai SDK leave the Gemini API by itself. */
export const BACKEND_SWITCHES = ['GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_GENAI_USE_ENTERPRISE'] as const;
/** google-genai for Python takes "1" as true too (the JS one only "true"): a command may be either. */
const TRUE_VALUES = ['true', '1'];
/** Appended to the emulator origin for the Python SDK on Vertex runs (see childEnvironment). */
export const PYTHON_SDK_VERTEX_BASE_SUFFIX = '#aiplatform.googleapis.com';

export const DEFAULT_TTL_SECONDS = 10;
export const DEFAULT_READ_TIMEOUT_SECONDS = 2;

/** Bad input: exec exits 2 with this message, which names the flag or variable and the fix. */
export class ExecInputError extends Error {
  override readonly name = 'ExecInputError';
}

/** A route store URL: a directory (`file://<dir>`) or a Cloud Storage prefix (`gs://<bucket>[/<prefix>]`). */
export type StoreUrl = { scheme: 'file'; dir: string; url: string } | { scheme: 'gs'; bucket: string; prefix: string; url: string };

const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,220}$/;

/** Parses a store URL; throws ExecInputError with the fix. */
export function parseStoreUrl(store: string): StoreUrl {
  if (store.startsWith('file://')) {
    const rest = store.slice('file://'.length);
    const dir = rest.replace(/\/+$/, '') || (rest ? '/' : '');
    if (!dir) throw new ExecInputError('a file:// store names a directory: file://<dir>, e.g. file://.keyless/routes');
    return { scheme: 'file', dir, url: `file://${dir}` };
  }
  if (store.startsWith('gs://')) {
    const rest = store.slice('gs://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (!BUCKET_RE.test(bucket)) throw new ExecInputError('a gs:// store names a bucket: gs://<bucket>[/<prefix>], e.g. gs://my-project-keyless-routes/routes');
    return { scheme: 'gs', bucket, prefix, url: `gs://${bucket}${prefix ? `/${prefix}` : ''}` };
  }
  throw new ExecInputError('the route store must be file://<dir> or gs://<bucket>[/<prefix>]');
}

/**
 * Names of a pipeline's route document under its store, new place first: `<project>/<pipeline>.json`,
 * then the old `<pipeline>.json` that migrations started before the move still publish at.
 */
export function routeDocumentNames(pipeline: string, project: string | undefined): string[] {
  return project === undefined ? [`${pipeline}.json`] : [`${project}/${pipeline}.json`, `${pipeline}.json`];
}

/** exec's options once checked: seconds as numbers, the store parsed. */
export interface ExecOptions {
  pipeline: string;
  /** The store as given (the disk cache's key, as in the Python client). */
  storeText: string;
  store: StoreUrl;
  project: string | undefined;
  command: string[];
  ttlSeconds: number;
  readTimeoutSeconds: number;
  runId: string | undefined;
  expectServiceAccount: string | undefined;
  cacheFile: string | undefined;
}

const PIPELINE_REQUIRED = "--pipeline is required: the pipeline's name as in its keyless spec, e.g. --pipeline nightly-summarizer";
const STORE_REQUIRED = "--store is required: where keyless publishes routes, file://<dir> or gs://<bucket>[/<prefix>] (the spec's route.store)";

function seconds(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!(value >= 0 && value <= 3600)) throw new ExecInputError(`--${flag} must be a number of seconds from 0 to 3600`);
  return value;
}

/** Flag values (as parsed from the command line) and the command after `--`, checked in the Python exec's order; throws ExecInputError. */
export function parseExecOptions(flags: Record<string, string | undefined>, command: string[]): ExecOptions {
  const { pipeline, store, project } = flags;
  if (!pipeline) throw new ExecInputError(PIPELINE_REQUIRED);
  if (!PIPELINE_RE.test(pipeline)) throw new ExecInputError('--pipeline must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter');
  if (!store) throw new ExecInputError(STORE_REQUIRED);
  let storeUrl: StoreUrl;
  try {
    storeUrl = parseStoreUrl(store);
  } catch (err) {
    throw new ExecInputError(`--store: ${(err as Error).message}`);
  }
  if (project !== undefined && !PROJECT_RE.test(project)) throw new ExecInputError('--project must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter');
  if (command.length === 0) throw new ExecInputError(`no command after --; e.g. ${EXEC_EXAMPLE}`);
  const ttlSeconds = seconds('ttl', flags.ttl, DEFAULT_TTL_SECONDS);
  const readTimeoutSeconds = seconds('read-timeout', flags['read-timeout'], DEFAULT_READ_TIMEOUT_SECONDS);
  if (flags['expect-service-account'] === '') throw new ExecInputError('--expect-service-account needs an account email');
  if (flags['cache-file'] === '') throw new ExecInputError('--cache-file needs a path');
  return {
    pipeline,
    storeText: store,
    store: storeUrl,
    project,
    command,
    ttlSeconds,
    readTimeoutSeconds,
    runId: flags['run-id'],
    expectServiceAccount: flags['expect-service-account'],
    cacheFile: flags['cache-file'],
  };
}

// -- environments exec refuses ---------------------------------------------------------------------

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * Why `env` would let the SDK choose a backend by itself (an API key next to a Vertex switch, or two
 * different keys), as the clients refuse it; each message names the variable to remove, never a value.
 */
export function execEnvironmentConflicts(env: Record<string, string | undefined>): string[] {
  const conflicts: string[] = [];
  const keys = KEY_VARIABLES.filter((name) => isSet(env[name]));
  for (const backendSwitch of BACKEND_SWITCHES) {
    const value = env[backendSwitch]?.trim();
    if (value === undefined || !TRUE_VALUES.includes(value.toLowerCase()) || keys.length === 0) continue;
    conflicts.push(
      `${keys.join(' and ')} and ${backendSwitch}=${value} are both set, so google-genai would choose between ` +
        `the API key and Vertex by itself; remove ${backendSwitch}: keyless chooses Vertex per run from the route`,
    );
  }
  if (keys.length === 2 && env.GEMINI_API_KEY!.trim() !== env.GOOGLE_API_KEY!.trim()) {
    conflicts.push(
      'GEMINI_API_KEY and GOOGLE_API_KEY hold different keys and google-genai silently prefers GOOGLE_API_KEY; ' +
        "remove GOOGLE_API_KEY and keep the pipeline's key in GEMINI_API_KEY",
    );
  }
  return conflicts;
}

/**
 * The emulator's origin from KEYLESS_EMULATOR (undefined: Google's endpoints). Only a loopback
 * address is accepted: emulator mode sends tokens and prompts to that address.
 */
export function emulatorOrigin(env: Record<string, string | undefined>): string | undefined {
  const raw = env.KEYLESS_EMULATOR?.trim();
  if (!raw) return undefined;
  const refuse = () => new ExecInputError("KEYLESS_EMULATOR must be the emulator's loopback origin, such as http://127.0.0.1:8085; unset it to use Google's endpoints");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse();
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
  if (!['http:', 'https:'].includes(url.protocol) || !loopback || url.username || url.password || !['', '/'].includes(url.pathname) || url.search || url.hash || /[?#]$/.test(raw)) throw refuse();
  return `${url.protocol}//${host.includes(':') ? `[${host}]` : host}${url.port ? `:${url.port}` : ''}`;
}

/** Shaped like an API key (standard `AIza…` or auth key `AQ.…`), as contracts/spec.ts says. */
export function looksLikeKeyString(value: string): boolean {
  return /AIza[0-9A-Za-z_-]{20,}/.test(value) || /^AQ\.[0-9A-Za-z_.-]{10,}$/.test(value.trim());
}

// -- run ids ---------------------------------------------------------------------------------------

/** Where a run id comes from when --run-id is not given, in order: [variable, how the id is built]. */
export const RUN_ID_SOURCES: readonly (readonly [string, (env: Record<string, string | undefined>) => string | undefined])[] = [
  // Set by an outer keyless exec (or by hand): the same run, the same decision.
  ['KEYLESS_RUN_ID', (e) => e.KEYLESS_RUN_ID || undefined],
  // GitHub Actions: one workflow run attempt; a re-run is a new attempt and decides anew.
  ['GITHUB_RUN_ID', (e) => (e.GITHUB_RUN_ID ? `${e.GITHUB_RUN_ID}-${e.GITHUB_RUN_ATTEMPT || '1'}` : undefined)],
  // GitLab CI: the job.
  ['CI_JOB_ID', (e) => e.CI_JOB_ID || undefined],
  // Cloud Run jobs: the execution (all its tasks share one decision).
  ['CLOUD_RUN_EXECUTION', (e) => e.CLOUD_RUN_EXECUTION || undefined],
  // Jenkins: jenkins-<job>-<build number> (its JOB_NAME alone is the same for every build).
  ['BUILD_TAG', (e) => (e.JENKINS_URL && e.BUILD_TAG ? e.BUILD_TAG : undefined)],
  // A Kubernetes Job: JOB_NAME, set from the downward API (label batch.kubernetes.io/job-name); a
  // CronJob makes a new Job per schedule. HOSTNAME is not used: a long-lived pod keeps it for every run.
  ['JOB_NAME', (e) => (e.KUBERNETES_SERVICE_HOST && e.JOB_NAME ? e.JOB_NAME : undefined)],
];

const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/** A run id is printed in logs: refuse control characters, bidi controls, and anything key-shaped. */
export function checkRunId(value: string, source: string): string {
  if (value === '') throw new ExecInputError(`${source} is empty; give a run id or leave it out for a random one`);
  if (UNPRINTABLE.test(value)) throw new ExecInputError(`${source} contains control characters; a run id is printed in logs, use letters, digits and punctuation only`);
  if ([...value].length > 256) throw new ExecInputError(`${source} is longer than 256 characters`);
  if (looksLikeKeyString(value)) throw new ExecInputError(`${source} looks like an API key; a run id is printed in logs, never put a key there`);
  return value;
}

/** This run's id and where it came from ('--run-id', a variable's name, or 'random'). */
export function resolveRunId(flag: string | undefined, env: Record<string, string | undefined>, random: () => string): { runId: string; source: string } {
  if (flag !== undefined) return { runId: checkRunId(flag, '--run-id'), source: '--run-id' };
  for (const [name, build] of RUN_ID_SOURCES) {
    const value = build(env);
    if (value !== undefined) return { runId: checkRunId(value, name), source: name };
  }
  return { runId: random(), source: 'random' };
}

// -- the command's environment ---------------------------------------------------------------------

export interface ChildEnvironmentInput {
  env: Record<string, string | undefined>;
  view: RouteView;
  vertex: boolean;
  runId: string;
  /** The emulator's origin in emulator mode. */
  emulator: string | undefined;
}

/** The command's environment: every google-genai SDK (Python, JS, Go, Java) reads it the same way. */
export function childEnvironment({ env, view, vertex, runId, emulator }: ChildEnvironmentInput): Record<string, string> {
  const child: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) child[name] = value;
  for (const name of BACKEND_SWITCHES) delete child[name];
  const route = view.route;
  if (vertex && route) {
    // The JS SDK sends a leftover key even in Vertex mode when Vertex is switched on only by the
    // environment; the Python SDK drops it. Remove it for both.
    for (const name of KEY_VARIABLES) delete child[name];
    child.GOOGLE_GENAI_USE_VERTEXAI = 'true';
    child.GOOGLE_CLOUD_PROJECT = route.project;
    child.GOOGLE_CLOUD_LOCATION = route.location;
    if (env.KEYLESS_CREDENTIAL_CONFIG) child.GOOGLE_APPLICATION_CREDENTIALS = env.KEYLESS_CREDENTIAL_CONFIG;
    // google-genai for Python reads GOOGLE_GEMINI_BASE_URL, not the Vertex one, when Vertex is
    // switched on by the environment, and treats it as an API gateway: left over, it would send
    // the Vertex calls there without their project path.
    delete child.GOOGLE_GEMINI_BASE_URL;
  }
  if (emulator) {
    child.GOOGLE_VERTEX_BASE_URL = emulator;
    // See above: for a Vertex run the Python SDK takes this variable, and keeps Google's
    // project/location path only for a base URL that ends in ".googleapis.com". A fragment is never
    // sent over HTTP, so this still reaches the emulator's origin; the JS SDK (which joins strings)
    // reads GOOGLE_VERTEX_BASE_URL in Vertex mode and never sees it.
    child.GOOGLE_GEMINI_BASE_URL = vertex ? `${emulator}/${PYTHON_SDK_VERTEX_BASE_SUFFIX}` : emulator;
  }
  child.KEYLESS_RUN_ID = runId;
  child.KEYLESS_AUTH_MODE = vertex ? 'vertex' : 'api-key';
  if (route) child.KEYLESS_ROUTE_GENERATION = String(route.generation);
  else delete child.KEYLESS_ROUTE_GENERATION;
  return child;
}

/** The one stderr line: backend, route generation, run id, and why the route is stale (never a key, never the document). */
export function decisionLine(pipeline: string, runId: string, view: RouteView, vertex: boolean): string {
  const route = view.route ? `route generation ${view.route.generation}` : 'no route';
  const stale = view.stale ? `, stale: ${view.error}; ${view.route ? 'using the last route seen' : 'using the API key'}` : '';
  return `keyless: ${pipeline} run ${runId}: ${vertex ? 'vertex' : 'api-key'} (${route}${stale})`;
}
