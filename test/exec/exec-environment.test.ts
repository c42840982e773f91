// What `keyless exec` decides before it starts a command, without a process: its options and their
// messages, the run id's sources in order, the environments it refuses, the command's environment
// per backend, the stderr line, the full route rules against clients/vectors/route.json, the split
// against clients/vectors/split.json (in TypeScript and, through python3, in the Python client),
// and the disk cache both execs share.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../contracts/route';
import {
  checkRunId,
  childEnvironment,
  decisionLine,
  emulatorOrigin,
  execEnvironmentConflicts,
  ExecInputError,
  parseExecOptions,
  parseStoreUrl,
  resolveRunId,
  routeDocumentNames,
} from '../../gemini-client/exec-environment';
import { defaultRouteCacheFile, readRouteDiskEntry, writeRouteDiskEntry } from '../../gemini-client/route-disk-cache';
import { parseRouteDocument, RouteRefused } from '../../contracts/route-rules';
import { choosesVertex, splitBucket } from '../../gemini-client/split';
import { documentText, routeVectors } from '../support/route-vectors';

const run = promisify(execFile);
const REPO = resolve(new URL('../..', import.meta.url).pathname);
const PYTHON_SRC = join(REPO, 'clients/python/src');
const KEY = `AIzaExec${'E'.repeat(31)}`;

const route = (percent: number, over: Partial<Route> = {}): Route => ({
  pipeline: 'nightly-summarizer',
  generation: 7,
  vertexPercent: percent,
  project: 'demo-project',
  location: 'europe-west4',
  serviceAccount: 'nightly-summarizer@demo-project.iam.gserviceaccount.com',
  updatedAt: '2026-11-30T00:53:20.000Z',
  ...over,
});

function inputError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ExecInputError);
    return (err as Error).message;
  }
  throw new Error('expected an ExecInputError');
}

describe('exec options', () => {
  const flags = { pipeline: 'nightly-summarizer', store: 'file:///tmp/routes' };

  it('are checked in the Python exec order, each message naming the flag and the fix', () => {
    expect(inputError(() => parseExecOptions({ store: flags.store }, ['true']))).toMatch(/^--pipeline is required: .*--pipeline nightly-summarizer$/);
    expect(inputError(() => parseExecOptions({ ...flags, pipeline: 'Nightly' }, ['true']))).toMatch(/^--pipeline must be 2-63 characters/);
    expect(inputError(() => parseExecOptions({ pipeline: flags.pipeline }, ['true']))).toMatch(/^--store is required: .*file:\/\/<dir> or gs:\/\/<bucket>/);
    expect(inputError(() => parseExecOptions({ ...flags, store: 'https://routes.example/r' }, ['true']))).toBe('--store: the route store must be file://<dir> or gs://<bucket>[/<prefix>]');
    expect(inputError(() => parseExecOptions({ ...flags, store: 'gs://B' }, ['true']))).toMatch(/^--store: a gs:\/\/ store names a bucket/);
    expect(inputError(() => parseExecOptions({ ...flags, store: 'file://' }, ['true']))).toMatch(/^--store: a file:\/\/ store names a directory/);
    expect(inputError(() => parseExecOptions({ ...flags, project: 'x' }, ['true']))).toMatch(/^--project must be a Google Cloud project id/);
    expect(inputError(() => parseExecOptions(flags, []))).toMatch(/^no command after --; e\.g\. keyless exec /);
    expect(inputError(() => parseExecOptions({ ...flags, ttl: 'soon' }, ['true']))).toBe('--ttl must be a number of seconds from 0 to 3600');
    expect(inputError(() => parseExecOptions({ ...flags, 'read-timeout': '-1' }, ['true']))).toBe('--read-timeout must be a number of seconds from 0 to 3600');
  });

  it('default the TTL to 10 s and the read timeout to 2 s, and parse stores as the Python client does', () => {
    const o = parseExecOptions({ ...flags, project: 'demo-project' }, ['python', 'job.py']);
    expect(o).toMatchObject({ pipeline: 'nightly-summarizer', project: 'demo-project', ttlSeconds: 10, readTimeoutSeconds: 2, command: ['python', 'job.py'], storeText: 'file:///tmp/routes' });
    expect(parseStoreUrl('file://.keyless/routes/')).toEqual({ scheme: 'file', dir: '.keyless/routes', url: 'file://.keyless/routes' });
    expect(parseStoreUrl('gs://acme-routes//keyless/')).toEqual({ scheme: 'gs', bucket: 'acme-routes', prefix: 'keyless', url: 'gs://acme-routes/keyless' });
    expect(routeDocumentNames('nightly-summarizer', 'demo-project')).toEqual(['demo-project/nightly-summarizer.json', 'nightly-summarizer.json']);
    expect(routeDocumentNames('nightly-summarizer', undefined)).toEqual(['nightly-summarizer.json']);
  });
});

describe('the environments exec refuses', () => {
  it('a key next to a Vertex switch (true or 1, as Python reads it), and two different keys, naming what to remove and no value', () => {
    for (const value of ['true', 'TRUE', '1']) {
      const [conflict] = execEnvironmentConflicts({ GEMINI_API_KEY: KEY, GOOGLE_GENAI_USE_VERTEXAI: value });
      expect(conflict).toMatch(/remove GOOGLE_GENAI_USE_VERTEXAI/);
      expect(conflict).not.toContain(KEY);
    }
    expect(execEnvironmentConflicts({ GEMINI_API_KEY: KEY, GOOGLE_GENAI_USE_VERTEXAI: 'false' })).toEqual([]);
    expect(execEnvironmentConflicts({ GOOGLE_GENAI_USE_VERTEXAI: 'true' })).toEqual([]);
    expect(execEnvironmentConflicts({ GEMINI_API_KEY: KEY, GOOGLE_GENAI_USE_ENTERPRISE: 'true' })[0]).toMatch(/remove GOOGLE_GENAI_USE_ENTERPRISE/);
    const [two] = execEnvironmentConflicts({ GEMINI_API_KEY: KEY, GOOGLE_API_KEY: `${KEY}2` });
    expect(two).toMatch(/remove GOOGLE_API_KEY/);
    expect(two).not.toContain(KEY);
  });

  it('an emulator address that is not loopback', () => {
    expect(emulatorOrigin({ KEYLESS_EMULATOR: 'http://127.0.0.1:8085/' })).toBe('http://127.0.0.1:8085');
    expect(emulatorOrigin({ KEYLESS_EMULATOR: 'http://[::1]:9' })).toBe('http://[::1]:9');
    expect(emulatorOrigin({ KEYLESS_EMULATOR: 'http://localhost:9' })).toBe('http://localhost:9');
    expect(emulatorOrigin({})).toBeUndefined();
    for (const bad of ['http://10.0.0.8:8085', 'ftp://127.0.0.1', 'http://127.0.0.1:9/path', 'http://u:p@127.0.0.1:9', 'http://127.0.0.1:9/#x', 'not a url']) {
      expect(inputError(() => emulatorOrigin({ KEYLESS_EMULATOR: bad }))).toMatch(/^KEYLESS_EMULATOR must be the emulator's loopback origin/);
    }
  });
});

describe('the run id', () => {
  const random = () => 'random-id';
  it('is --run-id, else the first CI variable of the Python exec order, else random', () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ GITHUB_RUN_ID: '9876543210', GITHUB_RUN_ATTEMPT: '2' }, '9876543210-2', 'GITHUB_RUN_ID'],
      [{ GITHUB_RUN_ID: '9876543210' }, '9876543210-1', 'GITHUB_RUN_ID'],
      [{ CI_JOB_ID: '445566' }, '445566', 'CI_JOB_ID'],
      [{ CLOUD_RUN_EXECUTION: 'nightly-job-x7k2p' }, 'nightly-job-x7k2p', 'CLOUD_RUN_EXECUTION'],
      [{ JENKINS_URL: 'http://ci', BUILD_TAG: 'jenkins-nightly-42', JOB_NAME: 'nightly' }, 'jenkins-nightly-42', 'BUILD_TAG'],
      [{ KUBERNETES_SERVICE_HOST: '10.0.0.1', JOB_NAME: 'nightly-29173452', HOSTNAME: 'nightly-29173452-abcde' }, 'nightly-29173452', 'JOB_NAME'],
      [{ KEYLESS_RUN_ID: 'outer-run', GITHUB_RUN_ID: '1', CI_JOB_ID: '2' }, 'outer-run', 'KEYLESS_RUN_ID'],
      [{ GITHUB_RUN_ID: '1', CI_JOB_ID: '2', CLOUD_RUN_EXECUTION: '3' }, '1-1', 'GITHUB_RUN_ID'],
      [{ HOSTNAME: 'a-long-lived-pod', JOB_NAME: 'not-kubernetes', BUILD_TAG: 'not-jenkins' }, 'random-id', 'random'],
    ];
    for (const [env, runId, source] of cases) {
      expect(resolveRunId(undefined, env, random)).toEqual({ runId, source });
      expect(resolveRunId('given', env, random)).toEqual({ runId: 'given', source: '--run-id' });
    }
  });

  it('refuses control characters, bidi controls, a key-shaped id and an empty one, naming where it came from', () => {
    expect(inputError(() => checkRunId('run\n1', '--run-id'))).toMatch(/^--run-id contains control characters/);
    expect(inputError(() => checkRunId('run\u202e1', '--run-id'))).toMatch(/^--run-id contains control characters/);
    expect(inputError(() => resolveRunId(undefined, { GITHUB_RUN_ID: '123\x1b[2J' }, random))).toMatch(/^GITHUB_RUN_ID contains control characters/);
    expect(inputError(() => checkRunId(KEY, '--run-id'))).toMatch(/looks like an API key/);
    expect(inputError(() => checkRunId('', '--run-id'))).toMatch(/is empty/);
    expect(inputError(() => checkRunId('x'.repeat(257), '--run-id'))).toMatch(/longer than 256/);
    expect(checkRunId('2026-11-30T00:15 nightly #42', '--run-id')).toBe('2026-11-30T00:15 nightly #42');
  });
});

describe("the command's environment", () => {
  const base = { GEMINI_API_KEY: KEY, GOOGLE_API_KEY: KEY, GOOGLE_GENAI_USE_ENTERPRISE: 'false', GOOGLE_GEMINI_BASE_URL: 'https://gateway.example', UNRELATED: 'kept', KEYLESS_ROUTE_GENERATION: '1' };

  it('on Vertex: the switch, project and location from the route, the credential configuration, no key variables', () => {
    const env = childEnvironment({ env: { ...base, KEYLESS_CREDENTIAL_CONFIG: '/run/wif.json' }, view: { route: route(100), stale: false }, vertex: true, runId: 'r-1', emulator: undefined });
    expect(env).toEqual({
      GOOGLE_GENAI_USE_VERTEXAI: 'true',
      GOOGLE_CLOUD_PROJECT: 'demo-project',
      GOOGLE_CLOUD_LOCATION: 'europe-west4',
      GOOGLE_APPLICATION_CREDENTIALS: '/run/wif.json',
      KEYLESS_CREDENTIAL_CONFIG: '/run/wif.json',
      KEYLESS_RUN_ID: 'r-1',
      KEYLESS_AUTH_MODE: 'vertex',
      KEYLESS_ROUTE_GENERATION: '7',
      UNRELATED: 'kept',
    });
  });

  it('on the key: the key variables as they were, no Vertex switch, GOOGLE_APPLICATION_CREDENTIALS untouched', () => {
    const env = childEnvironment({ env: { ...base, GOOGLE_GENAI_USE_VERTEXAI: 'false', GOOGLE_CLOUD_PROJECT: 'runner-project' }, view: { route: undefined, stale: false }, vertex: false, runId: 'r-2', emulator: undefined });
    expect(env).toEqual({
      GEMINI_API_KEY: KEY,
      GOOGLE_API_KEY: KEY,
      GOOGLE_GEMINI_BASE_URL: 'https://gateway.example',
      GOOGLE_CLOUD_PROJECT: 'runner-project',
      UNRELATED: 'kept',
      KEYLESS_RUN_ID: 'r-2',
      KEYLESS_AUTH_MODE: 'api-key',
    });
  });

  it('in emulator mode: both base URLs, the Python SDK\'s one for Vertex kept on Google\'s path by a fragment', () => {
    const emulator = 'http://127.0.0.1:7280';
    const vertex = childEnvironment({ env: {}, view: { route: route(100), stale: false }, vertex: true, runId: 'r', emulator });
    expect([vertex.GOOGLE_VERTEX_BASE_URL, vertex.GOOGLE_GEMINI_BASE_URL]).toEqual([emulator, `${emulator}/#aiplatform.googleapis.com`]);
    const key = childEnvironment({ env: { GEMINI_API_KEY: KEY }, view: { route: route(0), stale: false }, vertex: false, runId: 'r', emulator });
    expect([key.GOOGLE_VERTEX_BASE_URL, key.GOOGLE_GEMINI_BASE_URL, key.GEMINI_API_KEY]).toEqual([emulator, emulator, KEY]);
  });

  it('is announced in one line, as the Python exec prints it', () => {
    expect(decisionLine('nightly-summarizer', '9876543210-1', { route: route(100), stale: false }, true)).toBe('keyless: nightly-summarizer run 9876543210-1: vertex (route generation 7)');
    expect(decisionLine('nightly-summarizer', 'r', { route: route(0), stale: true, error: 'gs://b/x.json could not be read: HTTP 503 (ServiceUnavailable)' }, false)).toBe(
      'keyless: nightly-summarizer run r: api-key (route generation 7, stale: gs://b/x.json could not be read: HTTP 503 (ServiceUnavailable); using the last route seen)',
    );
    expect(decisionLine('nightly-summarizer', 'r', { route: undefined, stale: true, error: 'x' }, false)).toBe('keyless: nightly-summarizer run r: api-key (no route, stale: x; using the API key)');
  });
});

describe('the full route rules (clients/vectors/route.json), every row including the TypeScript schema\'s known gaps', () => {
  for (const c of routeVectors.cases) {
    it(`${c.verdict}: ${c.name}`, () => {
      const text = documentText(c, routeVectors.base);
      const check = () => parseRouteDocument(text, { pipeline: c.pipeline ?? routeVectors.pipeline, nowMs: routeVectors.nowMs, ...(c.expect ? { expect: c.expect } : {}) });
      if (c.verdict === 'valid') {
        expect(check().pipeline).toBe(c.pipeline ?? routeVectors.pipeline);
        return;
      }
      let refused: unknown;
      try {
        check();
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(RouteRefused);
      expect((refused as RouteRefused).field).toBe(c.field);
      // The document's content never shows up in the refusal.
      for (const value of Object.values(JSON.parse(text.startsWith('{') && !text.endsWith('summ') ? text : '{}') as Record<string, unknown>)) {
        if (typeof value === 'string' && value.length > 12) expect((refused as Error).message).not.toContain(value);
      }
    });
  }
});

const splitVectors = JSON.parse(readFileSync(join(REPO, 'clients/vectors/split.json'), 'utf8')) as {
  splitBucket: { pipeline: string; unitId: string; bucket: number }[];
  choosesVertex?: { vertexPercent: number; pipeline: string; unitId: string; vertex: boolean }[];
};

describe('the split (clients/vectors/split.json)', () => {
  it("exec decides with gemini-client/split.ts: the same bucket for every vector", () => {
    for (const v of splitVectors.splitBucket) expect(splitBucket(v.pipeline, v.unitId)).toBe(v.bucket);
    for (const v of splitVectors.choosesVertex ?? []) expect(choosesVertex(v.vertexPercent, v.pipeline, v.unitId)).toBe(v.vertex);
  });

  it("the Python client's split_bucket gives the same bucket as TypeScript for every vector", async () => {
    const script = 'import json, sys\nfrom keyless_route.split import split_bucket\nprint(json.dumps([split_bucket(v["pipeline"], v["unitId"]) for v in json.load(sys.stdin)]))';
    const child = execFile('python3', ['-c', script], { env: { PATH: process.env.PATH ?? '', PYTHONPATH: PYTHON_SRC, PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 16 << 20 });
    const out = new Promise<string>((resolveOut, reject) => {
      let text = '';
      child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolveOut(text) : reject(new Error(`python3 exited ${code}`))));
    });
    child.stdin!.end(JSON.stringify(splitVectors.splitBucket));
    expect(JSON.parse(await out)).toEqual(splitVectors.splitBucket.map((v) => splitBucket(v.pipeline, v.unitId)));
  });
});

describe('the disk cache both execs share', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyless-exec-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has the Python client\'s folder and file name', async () => {
    const env = { XDG_CACHE_HOME: join(dir, 'xdg'), HOME: join(dir, 'home') };
    const file = defaultRouteCacheFile('file://.keyless/routes', 'nightly-summarizer', 'demo-project', env);
    const script = 'import json, sys\nfrom keyless_route.cache import default_cache_file\nprint(default_cache_file("file://.keyless/routes", "nightly-summarizer", "demo-project"))';
    const { stdout } = await run('python3', ['-c', script], { env: { PATH: process.env.PATH ?? '', PYTHONPATH: PYTHON_SRC, ...env } });
    expect(stdout.trim()).toBe(file);
    expect(defaultRouteCacheFile('s', 'p1', undefined, { KEYLESS_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toMatch(/^\/c\/routes\/p1-[0-9a-f]{12}\.json$/);
    expect(defaultRouteCacheFile('s', 'p1', undefined, { HOME: '/h' })).toMatch(/^\/h\/\.cache\/keyless\/routes\//);
  });

  it('is written privately in the Python format and read back only for its own key, under the route rules', async () => {
    const file = join(dir, 'entry.json');
    const key = { store: 'file:///r', pipeline: 'nightly-summarizer', project: 'demo-project' };
    writeRouteDiskEntry(file, key, { route: route(50, { location: 'global' }), readAtMs: 1234 });
    const written = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({ v: 1, ...key, readAtMs: 1234, route: route(50, { location: 'global' }) });
    const check = (doc: string) => parseRouteDocument(doc, { pipeline: 'nightly-summarizer', nowMs: Date.now(), expect: { project: 'demo-project' } });
    expect(readRouteDiskEntry(file, key, check)).toEqual({ route: route(50, { location: 'global' }), readAtMs: 1234 });
    expect(readRouteDiskEntry(file, { ...key, store: 'file:///other' }, check)).toBeUndefined();
    expect(readRouteDiskEntry(file, key, () => {
      throw new RouteRefused('location', 'tampered');
    })).toBeUndefined();
    writeRouteDiskEntry(file, { ...key, project: undefined }, { route: undefined, readAtMs: 5 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ project: null, route: null });
    const { stat } = await import('node:fs/promises');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
