// `keyless exec` as a runner uses it, with real processes: unchanged jobs (Python google-genai from
// the pinned .tools/python, Node @google/genai) follow the route per run through the emulator,
// whose Cloud Monitoring request counts show which credential each run used (the audit log does
// not record generateContent); 200 runs at 50 % within the split test's tolerance; a rollback to
// 0 % within the TTL; exit codes, signals, stdio, 127; every bad input; a store that is down or a
// route that is corrupt; the disk cache shared with the Python exec.

import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { choosesVertex } from '../../gemini-client/split';
import { PIPELINE, PIPELINE_ACCOUNT, PIPELINE_UNIQUE_ID, PROJECT, PUBLISHER, REPO, startPythonClientCloud, type PythonClientCloud } from '../python-client/harness';

const runFile = promisify(execFile);
const JOBS = join(REPO, 'clients/python/tests/jobs');
const TSX = join(REPO, 'node_modules/tsx/dist/loader.mjs');
const MAIN = join(REPO, 'client/main.ts');
/** The TypeScript client's stated tolerance for the split (test/gemini-client/split.test.ts). */
const TOLERANCE_POINTS = 2.5;
const LINE = /^keyless: (?<pipeline>\S+) run (?<run>.+): (?<mode>vertex|api-key) \((?<route>route generation \d+|no route)(?<stale>, stale: .*)?\)$/;

let cloud: PythonClientCloud;
let dir: string;
let storeN = 0;

beforeAll(async () => {
  // The pinned Python clients (google-genai) the Python jobs import; a no-op once installed.
  await runFile('bash', [join(REPO, 'scripts/python-clients.sh'), '--quiet'], { cwd: REPO, timeout: 300_000 });
  cloud = await startPythonClientCloud();
  dir = await mkdtemp(join(tmpdir(), 'keyless-exec-'));
}, 360_000);

afterAll(async () => {
  await cloud?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A runner's environment: the pipeline's key, ADC through its account's metadata server, a cache folder of its own. */
function jobEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    ...cloud.env,
    PYTHONPATH: join(REPO, '.tools/python'),
    GEMINI_API_KEY: cloud.env.KEYLESS_TEST_API_KEY,
    XDG_CACHE_HOME: join(dir, `cache-${++storeN}`),
    ...extra,
  };
  for (const name of Object.keys(env)) if (name.startsWith('KEYLESS_TEST_') || env[name] === undefined) delete env[name];
  return env as Record<string, string>;
}

function routeDoc(generation: number, percent: number, over: Record<string, unknown> = {}) {
  return { pipeline: PIPELINE, generation, vertexPercent: percent, project: PROJECT, location: 'global', serviceAccount: PIPELINE_ACCOUNT, updatedAt: '2026-11-30T00:53:20.000Z', ...over };
}

/** A new file:// store holding `doc` at <store>/<project>/<pipeline>.json; returns the store's folder. */
async function storeWith(doc: unknown): Promise<string> {
  const store = join(dir, `store-${++storeN}`);
  await publish(store, doc);
  return store;
}

async function publish(store: string, doc: unknown): Promise<string> {
  const path = join(store, PROJECT, `${PIPELINE}.json`);
  await mkdir(join(store, PROJECT), { recursive: true });
  await writeFile(`${path}.tmp`, typeof doc === 'string' ? doc : JSON.stringify(doc));
  await rename(`${path}.tmp`, path);
  return path;
}

const options = (store: string, ...extra: string[]) => ['--pipeline', PIPELINE, '--store', `file://${store}`, '--project', PROJECT, ...extra];
const pythonJob = (name = 'summarize.py') => ['python3', join(JOBS, name)];
const nodeJob = () => [process.execPath, join(JOBS, 'summarize.mjs')];

interface Exec {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `keyless exec <args>` from the checkout (as bin/keyless runs it), bounded by `timeoutMs`. */
function keylessExec(args: string[], env: Record<string, string>, { input, timeoutMs = 60_000 }: { input?: string; timeoutMs?: number } = {}): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'exec', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

function decision(stderr: string): Record<string, string | undefined> {
  const first = stderr.split('\n')[0] ?? '';
  const m = LINE.exec(first);
  if (!m) throw new Error(`no decision line in ${JSON.stringify(stderr.slice(0, 2000))}`);
  return { ...m.groups };
}

/** Generative requests so far by credential, from Cloud Monitoring's request_count: the pipeline account's (Vertex) and the key's. */
async function requestCounts(): Promise<{ vertex: number; key: number }> {
  const token = cloud.emulator.mintAccessToken(PUBLISHER);
  const now = Date.now();
  const params = new URLSearchParams({
    filter: 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"',
    'interval.startTime': new Date(now - 6 * 3600_000).toISOString(),
    'interval.endTime': new Date(now + 120_000).toISOString(),
  });
  const res = await fetch(`${cloud.emulator.baseUrl}/v3/projects/${PROJECT}/timeSeries?${params}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { timeSeries?: { resource: { labels: Record<string, string> }; points: { value: { int64Value: string } }[] }[] };
  const counts = { vertex: 0, key: 0 };
  for (const series of body.timeSeries ?? []) {
    const n = series.points.reduce((sum, p) => sum + Number(p.value.int64Value), 0);
    const credential = series.resource.labels.credential_id;
    if (credential === `serviceaccount:${PIPELINE_UNIQUE_ID}`) counts.vertex += n;
    else if (credential === `apikey:${cloud.keyUid}`) counts.key += n;
  }
  return counts;
}

describe('bad input: exit 2, a message naming the flag or variable and the fix, and nothing run', () => {
  const ok = ['--pipeline', PIPELINE, '--store', 'file:///tmp/keyless-exec-none'];
  const cases: [string, string[], Record<string, string>, string][] = [
    ['no -- before the command', [...ok, 'touch', '{marker}'], {}, 'put -- between the options and the command'],
    ['no pipeline', ['--store', 'file:///tmp/r', '--', 'touch', '{marker}'], {}, '--pipeline is required'],
    ['a store that is neither file:// nor gs://', ['--pipeline', PIPELINE, '--store', 'https://routes.example/r', '--', 'touch', '{marker}'], {}, '--store: the route store must be file://<dir> or gs://<bucket>[/<prefix>]'],
    ['no command after --', [...ok, '--'], {}, 'no command after --'],
    ['an unknown option', [...ok, '--verbose', '--', 'touch', '{marker}'], {}, "Unknown option '--verbose'"],
    ['a key next to GOOGLE_GENAI_USE_VERTEXAI=true', [...ok, '--', 'touch', '{marker}'], { GOOGLE_GENAI_USE_VERTEXAI: 'true' }, 'remove GOOGLE_GENAI_USE_VERTEXAI'],
    ['a key next to GOOGLE_GENAI_USE_VERTEXAI=1', [...ok, '--', 'touch', '{marker}'], { GOOGLE_GENAI_USE_VERTEXAI: '1' }, 'remove GOOGLE_GENAI_USE_VERTEXAI'],
    ['two different keys', [...ok, '--', 'touch', '{marker}'], { GOOGLE_API_KEY: `AIza${'R'.repeat(35)}` }, 'remove GOOGLE_API_KEY'],
    ['a run id with a newline', [...ok, '--run-id', 'run\n1', '--', 'touch', '{marker}'], {}, '--run-id contains control characters'],
    ['a run id with a bidi control', [...ok, '--run-id', 'run\u202e1', '--', 'touch', '{marker}'], {}, '--run-id contains control characters'],
    ["a CI's run id with an escape sequence", [...ok, '--', 'touch', '{marker}'], { GITHUB_RUN_ID: '123\x1b[2J' }, 'GITHUB_RUN_ID contains control characters'],
    ['a key-shaped run id', [...ok, '--run-id', `AIza${'S'.repeat(35)}`, '--', 'touch', '{marker}'], {}, '--run-id looks like an API key'],
    ['a TTL that is no number', [...ok, '--ttl', 'soon', '--', 'touch', '{marker}'], {}, '--ttl must be a number of seconds'],
    ['an emulator that is not loopback', [...ok, '--', 'touch', '{marker}'], { KEYLESS_EMULATOR: 'http://10.0.0.8:8085' }, "KEYLESS_EMULATOR must be the emulator's loopback origin"],
    ['a credential configuration that names no file', [...ok, '--', 'touch', '{marker}'], { KEYLESS_CREDENTIAL_CONFIG: '/nonexistent/wif.json' }, 'KEYLESS_CREDENTIAL_CONFIG names no file'],
  ];
  it.each(cases)('%s', async (_name, args, extra, message) => {
    const marker = join(dir, `marker-${++storeN}`);
    const result = await keylessExec(args.map((a) => a.replace('{marker}', marker)), jobEnv(extra));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^keyless exec: /);
    expect(result.stderr).toContain(message);
    const { existsSync } = await import('node:fs');
    expect(existsSync(marker)).toBe(false);
    for (const secret of [cloud.env.KEYLESS_TEST_API_KEY!, `AIza${'R'.repeat(35)}`, `AIza${'S'.repeat(35)}`]) expect(result.stderr).not.toContain(secret);
  });
});

describe('the command runs as if started directly', () => {
  it('a command that cannot be started exits 127 with the reason', async () => {
    const result = await keylessExec([...options(dir), '--', 'no-such-command-keyless'], jobEnv());
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('keyless exec: cannot start no-such-command-keyless: No such file or directory');
    expect(decision(result.stderr).mode).toBe('api-key');
  });

  it('exit code and stdio pass through untouched', async () => {
    const code = "import sys; data = sys.stdin.read(); print('out:' + data); print('err:' + data, file=sys.stderr); sys.exit(7)";
    const result = await keylessExec([...options(dir), '--', 'python3', '-c', code], jobEnv(), { input: 'hello' });
    expect(result.code).toBe(7);
    expect(result.stdout).toBe('out:hello\n');
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(LINE);
    expect(lines[1]).toBe('err:hello');
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s sent to exec reaches the command, and its exit code comes back', async (signal, exitCode) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'exec', ...options(dir), '--', ...pythonJob('signals.py')], { env: jobEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('ready')) resolve();
      });
    });
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await ready;
    // The command is exec's child, not exec itself.
    expect(stdout).not.toContain(`ready ${child.pid}\n`);
    child.kill(signal);
    const [code] = await closed;
    clearTimeout(guard);
    expect(code, stderr).toBe(exitCode);
    expect(stdout).toContain(`got ${signal}`);
    expect(stderr.split('\n')[0]).toMatch(LINE);
  });

  it('a command ended by a signal ends exec by the same signal', async () => {
    const result = await keylessExec([...options(dir), '--', 'sh', '-c', 'kill -TERM $$'], jobEnv());
    expect([result.code, result.signal]).toEqual([null, 'SIGTERM']);
  });

  it('the command gets the signal dispositions and mask it gets when started directly, so `exec -- yes | head` ends cleanly', async () => {
    const probe = ['grep', '-E', '^Sig(Ign|Blk):', '/proc/self/status'];
    const direct = await runFile(probe[0]!, probe.slice(1), { env: jobEnv() });
    const viaExec = await keylessExec([...options(dir), '--', ...probe], jobEnv());
    expect(viaExec.code).toBe(0);
    expect(viaExec.stdout).toBe(direct.stdout);
    const pipe = await runFile('sh', ['-c', `"${process.execPath}" --import "${TSX}" "${MAIN}" exec ${options(dir).join(' ')} -- yes | head -n 2`], { env: jobEnv(), timeout: 30_000 });
    expect(pipe.stdout).toBe('y\ny\n');
    expect(pipe.stderr).not.toMatch(/EPIPE|Broken pipe/);
  });
});

describe("the command's environment", () => {
  it('a Vertex run: the switch, project and location from the route, the credential configuration, no key, the emulator for both SDKs', async () => {
    const store = await storeWith(routeDoc(21, 100, { location: 'europe-west4' }));
    const wif = join(dir, 'wif.json');
    await writeFile(wif, JSON.stringify({ type: 'external_account' }));
    const env = jobEnv({ GOOGLE_API_KEY: cloud.env.KEYLESS_TEST_API_KEY, GOOGLE_GENAI_USE_ENTERPRISE: 'false', KEYLESS_CREDENTIAL_CONFIG: wif, UNRELATED: 'kept' });
    const result = await keylessExec([...options(store, '--run-id', 'run-1'), '--', ...pythonJob('print_env.py')], env);
    expect(result.code, result.stderr).toBe(0);
    expect(decision(result.stderr)).toEqual({ pipeline: PIPELINE, run: 'run-1', mode: 'vertex', route: 'route generation 21', stale: undefined });
    expect(JSON.parse(result.stdout)).toEqual({
      GOOGLE_GENAI_USE_VERTEXAI: 'true',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      GOOGLE_CLOUD_LOCATION: 'europe-west4',
      GOOGLE_APPLICATION_CREDENTIALS: wif,
      GOOGLE_VERTEX_BASE_URL: cloud.emulator.baseUrl,
      GOOGLE_GEMINI_BASE_URL: `${cloud.emulator.baseUrl}/#aiplatform.googleapis.com`,
      KEYLESS_RUN_ID: 'run-1',
      KEYLESS_AUTH_MODE: 'vertex',
      KEYLESS_ROUTE_GENERATION: '21',
      UNRELATED: 'kept',
    });
  });

  it('a key run: the key variables as they were and no Vertex switch', async () => {
    const store = await storeWith(routeDoc(22, 0));
    const key = cloud.env.KEYLESS_TEST_API_KEY!;
    const env = jobEnv({ GOOGLE_API_KEY: key, GOOGLE_GENAI_USE_VERTEXAI: 'false', GOOGLE_CLOUD_PROJECT: 'runner-project' });
    const result = await keylessExec([...options(store, '--run-id', 'run-2'), '--', ...pythonJob('print_env.py')], env);
    expect(decision(result.stderr)).toMatchObject({ mode: 'api-key', route: 'route generation 22' });
    expect(JSON.parse(result.stdout)).toEqual({
      GEMINI_API_KEY: `<${key.length} characters>`,
      GOOGLE_API_KEY: `<${key.length} characters>`,
      GOOGLE_CLOUD_PROJECT: 'runner-project',
      GOOGLE_GEMINI_BASE_URL: cloud.emulator.baseUrl,
      GOOGLE_VERTEX_BASE_URL: cloud.emulator.baseUrl,
      KEYLESS_RUN_ID: 'run-2',
      KEYLESS_AUTH_MODE: 'api-key',
      KEYLESS_ROUTE_GENERATION: '22',
    });
    expect(result.stderr).not.toContain(key);
  });

  it("the run id is the CI's own, and random without one", async () => {
    const store = await storeWith(routeDoc(23, 50));
    const got = async (extra: Record<string, string>, ...flags: string[]) => decision((await keylessExec([...options(store, ...flags), '--', 'true'], jobEnv(extra))).stderr).run;
    expect(await got({ GITHUB_RUN_ID: '9876543210', GITHUB_RUN_ATTEMPT: '2', CI_JOB_ID: '1' })).toBe('9876543210-2');
    expect(await got({ KUBERNETES_SERVICE_HOST: '10.0.0.1', JOB_NAME: 'nightly-29173452' })).toBe('nightly-29173452');
    expect(await got({ GITHUB_RUN_ID: '1' }, '--run-id', 'given')).toBe('given');
    const [a, b] = [await got({ HOSTNAME: 'a-long-lived-pod' }), await got({ HOSTNAME: 'a-long-lived-pod' })];
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('unchanged jobs follow the route', () => {
  async function oneRun(store: string, runId: string, job: string[], env = jobEnv(), ...extra: string[]): Promise<string> {
    const result = await keylessExec([...options(store, '--run-id', runId, ...extra), '--', ...job], env, { timeoutMs: 120_000 });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(result.stdout.trim(), 'the job printed no text').not.toBe('');
    return decision(result.stderr).mode!;
  }

  it.each([0, 50, 100])('at %i %%, a Python google-genai job and a Node @google/genai job each use the credential the split chose, as Monitoring counts it', async (percent) => {
    const store = await storeWith(routeDoc(30 + percent, percent));
    const modes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const runId = `run-${percent}-${i}`;
      const job = i % 2 === 0 ? pythonJob() : nodeJob();
      const before = await requestCounts();
      const mode = await oneRun(store, runId, job);
      const after = await requestCounts();
      const expected = choosesVertex(percent, PIPELINE, runId) ? 'vertex' : 'api-key';
      expect(mode).toBe(expected);
      // Google's accounting: this run's one call was made with exactly the credential chosen.
      expect({ vertex: after.vertex - before.vertex, key: after.key - before.key }).toEqual({ vertex: Number(expected === 'vertex'), key: Number(expected === 'api-key') });
      modes.push(mode);
    }
    expect(new Set(modes)).toEqual(new Set(percent === 0 ? ['api-key'] : percent === 100 ? ['vertex'] : ['api-key', 'vertex']));
  }, 240_000);

  it('200 runs at 50 % split within the TypeScript tolerance, each with the environment of its backend', async () => {
    const store = await storeWith(routeDoc(40, 50));
    const runs = 200;
    // GitHub Actions run ids, as the runner sets them: exec builds <GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>.
    const ids = Array.from({ length: runs }, (_, i) => String(11_000_000_000 + 7919 * i));
    // A trivial command that reports what it got: the split and the environment, not the SDKs, are under test here.
    const report = ['sh', '-c', 'echo "$KEYLESS_AUTH_MODE ${GOOGLE_GENAI_USE_VERTEXAI:-none} ${GEMINI_API_KEY:+key} $KEYLESS_RUN_ID"'];
    const results: { run: string; mode: string; reported: string }[] = new Array(runs);
    let next = 0;
    const worker = async () => {
      while (next < runs) {
        const i = next++;
        const result = await keylessExec([...options(store), '--', ...report], jobEnv({ GITHUB_RUN_ID: ids[i]!, GITHUB_RUN_ATTEMPT: '1' }));
        expect(result.code, result.stderr).toBe(0);
        const line = decision(result.stderr);
        results[i] = { run: line.run!, mode: line.mode!, reported: result.stdout.trim() };
      }
    };
    await Promise.all([worker(), worker()]);
    const expected = ids.map((id) => (choosesVertex(50, PIPELINE, `${id}-1`) ? 'vertex' : 'api-key'));
    expect(results.map((r) => r.run)).toEqual(ids.map((id) => `${id}-1`));
    expect(results.map((r) => r.mode)).toEqual(expected);
    // A Vertex run has no key variable at all (the empty expansion leaves two spaces).
    expect(results.map((r) => r.reported)).toEqual(results.map((r) => (r.mode === 'vertex' ? `vertex true  ${r.run}` : `api-key none key ${r.run}`)));
    const vertex = expected.filter((m) => m === 'vertex').length;
    expect(Math.abs((100 * vertex) / runs - 50)).toBeLessThanOrEqual(TOLERANCE_POINTS);
  }, 600_000);

  it('a rollback to 0 % moves the runs back to the key within the TTL', async () => {
    const ttl = 2;
    const store = await storeWith(routeDoc(50, 100));
    const env = jobEnv();
    expect(await oneRun(store, 'r-1', pythonJob(), env, '--ttl', String(ttl))).toBe('vertex');
    await publish(store, routeDoc(51, 0));
    const rolledBack = performance.now();
    const runs: [number, string][] = [];
    // Until a run has started more than a TTL after the rollback (bounded: at most 12 runs).
    while (runs.length < 12 && (runs.length === 0 || runs.at(-1)![0] <= ttl)) {
      const started = (performance.now() - rolledBack) / 1000;
      const job = runs.length % 2 ? pythonJob() : nodeJob();
      runs.push([started, await oneRun(store, `r-${runs.length + 2}`, job, env, '--ttl', String(ttl))]);
    }
    // Within the TTL a run may still use the route read before the rollback (the disk cache); after it, none does.
    expect(runs.filter(([started]) => started > ttl).every(([, mode]) => mode === 'api-key')).toBe(true);
    expect(runs.at(-1)).toEqual([expect.any(Number), 'api-key']);
    expect(runs.at(-1)![0]).toBeGreaterThan(ttl);
    const modes = runs.map(([, m]) => m);
    expect(modes).toEqual([...modes].sort((a, b) => Number(a === 'api-key') - Number(b === 'api-key')));
  }, 240_000);
});

describe('keyless down is not the job down', () => {
  it('a store that cannot be read: the last route seen (kept on disk), else the key, and the line says so', async () => {
    const store = await storeWith(routeDoc(60, 100));
    const env = jobEnv();
    expect(decision((await keylessExec([...options(store, '--ttl', '0'), '--', 'true'], env)).stderr).mode).toBe('vertex');
    const path = join(store, PROJECT, `${PIPELINE}.json`);
    await unlink(path);
    await mkdir(path);
    const result = await keylessExec([...options(store, '--ttl', '0'), '--', ...pythonJob()], env, { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).not.toBe('');
    const line = decision(result.stderr);
    expect([line.mode, line.route]).toEqual(['vertex', 'route generation 60']);
    expect(line.stale).toContain('could not be read: Is a directory');
    expect(line.stale).toContain('using the last route seen');
    // A runner that never saw a route (its own cache folder) takes the key.
    const fresh = await keylessExec([...options(store, '--ttl', '0'), '--', ...nodeJob()], jobEnv(), { timeoutMs: 120_000 });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(decision(fresh.stderr)).toMatchObject({ mode: 'api-key', route: 'no route' });
    expect(decision(fresh.stderr).stale).toContain('using the API key');
  }, 240_000);

  it('a corrupt route falls back, says so, and never prints its content', async () => {
    const tampered = `AIzaSy${'T'.repeat(33)}`;
    for (const doc of [routeDoc(70, 100, { location: tampered }), `{"pipeline": "${tampered}`]) {
      const store = await storeWith(doc);
      const result = await keylessExec([...options(store), '--', ...pythonJob()], jobEnv(), { timeoutMs: 120_000 });
      expect(result.code, result.stderr).toBe(0);
      const line = decision(result.stderr);
      expect(line.mode).toBe('api-key');
      expect(line.stale).toMatch(/route document refused: (location must be|is not valid JSON)/);
      expect(result.stderr).not.toContain(tampered);
      expect(result.stdout).not.toContain(tampered);
    }
  }, 240_000);

  it("a Cloud Storage route, read with the runner's ADC; the bucket down: the last route seen", async () => {
    const { OAuth2Client } = await import('google-auth-library');
    const { createStorage } = await import('../../google/storage');
    // The orchestrator publishes, with a token of its own account.
    const publisher = new OAuth2Client();
    publisher.setCredentials({ access_token: cloud.emulator.mintAccessToken(PUBLISHER) });
    const storage = createStorage({ mode: 'emulator', baseUrl: cloud.emulator.baseUrl }, publisher);
    await storage.bucket(cloud.env.KEYLESS_TEST_BUCKET!).file(`exec-ts/${PROJECT}/${PIPELINE}.json`).save(JSON.stringify(routeDoc(80, 100)), { resumable: false, contentType: 'application/json' });
    const gs = ['--pipeline', PIPELINE, '--store', `gs://${cloud.env.KEYLESS_TEST_BUCKET}/exec-ts`, '--project', PROJECT, '--ttl', '0'];
    const env = jobEnv();
    const first = await keylessExec([...gs, '--run-id', 'gs-1', '--', ...nodeJob()], env, { timeoutMs: 120_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(decision(first.stderr)).toMatchObject({ mode: 'vertex', route: 'route generation 80', stale: undefined });
    await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults/storage`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorRates: { 503: 1 } }) });
    try {
      const second = await keylessExec([...gs, '--run-id', 'gs-2', '--', ...pythonJob()], env, { timeoutMs: 120_000 });
      expect(second.code, second.stderr).toBe(0);
      expect(decision(second.stderr)).toMatchObject({ mode: 'vertex', route: 'route generation 80' });
      expect(decision(second.stderr).stale).toContain('HTTP 503 (ServiceUnavailable)');
    } finally {
      await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults`, { method: 'DELETE' });
    }
  }, 240_000);

  it('the last route seen is shared with `python -m keyless_route exec` through the same disk cache', async () => {
    const store = await storeWith(routeDoc(90, 100));
    const env = jobEnv();
    expect(decision((await keylessExec([...options(store, '--ttl', '0'), '--', 'true'], env)).stderr).route).toBe('route generation 90');
    const path = join(store, PROJECT, `${PIPELINE}.json`);
    await unlink(path);
    await mkdir(path);
    // The Python exec (its source, with the pinned clients) starts from what keyless exec left.
    const python = await runFile('python3', ['-m', 'keyless_route', 'exec', ...options(store, '--ttl', '0'), '--', 'true'], {
      env: { ...env, PYTHONPATH: `${join(REPO, 'clients/python/src')}:${join(REPO, '.tools/python')}` },
    });
    expect(decision(python.stderr)).toMatchObject({ mode: 'vertex', route: 'route generation 90' });
    expect(decision(python.stderr).stale).toContain('using the last route seen');
  }, 120_000);
});
