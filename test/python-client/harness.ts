// What the Python client's tests and benchmark run against: a fresh virtual environment with
// clients/python installed by pip (dependencies pinned, wheels cached under .tools/ so a second run
// needs no network), and the emulator with a small estate: a pipeline account whose metadata server
// is the runner's ADC, its API key, a route bucket and an orchestrator that publishes routes there.
//   npx tsx test/python-client/harness.ts    starts the estate and prints the pytest environment (development)

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startEmulator, type FixtureInput, type RunningEmulator } from '../../emulator/index';
import { demoModels } from '../../emulator/model/fixture';

const run = promisify(execFile);

export const REPO = resolve(new URL('../..', import.meta.url).pathname);
export const CLIENT_DIR = join(REPO, 'clients/python');
export const PROJECT = 'demo-project';
export const PIPELINE = 'nightly-summarizer';
export const PIPELINE_ACCOUNT = `${PIPELINE}@${PROJECT}.iam.gserviceaccount.com`;
export const PIPELINE_UNIQUE_ID = '100000000000000004101';
export const PUBLISHER = `keyless@${PROJECT}.iam.gserviceaccount.com`;
export const BUCKET = `${PROJECT}-keyless-routes`;
/** Shaped like a standard key, restricted to the Gemini API so the retirement of unrestricted keys leaves it working. */
export const KEY_STRING = `AIzaPyRoute${'K'.repeat(28)}`;

/** The pins the venv installs: the shared Python clients' constraints plus the ones keyless-route adds. */
export const CONSTRAINTS = [join(REPO, 'test/emulator/python/constraints.txt'), join(CLIENT_DIR, 'tests/constraints.txt')];

export interface PythonEnv {
  /** The venv's interpreter. */
  python: string;
  dir: string;
  timings: { venvMs: number; downloadMs: number; installMs: number };
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started];
}

/** Requirement lines (`name==version`) of the constraints files. */
async function pinned(): Promise<string[]> {
  const lines = (await Promise.all(CONSTRAINTS.map((f) => readFile(f, 'utf8')))).join('\n').split('\n');
  return lines.map((l) => l.trim()).filter((l) => /^[A-Za-z0-9_.-]+==\S+$/.test(l));
}

/**
 * A fresh venv with keyless-route installed from clients/python. Wheels come from
 * .tools/python-wheels/<hash of the pins>, downloaded from PyPI once (into a temporary folder,
 * renamed into place only when complete, so a concurrent or interrupted run never leaves half).
 */
export async function createPythonEnv(): Promise<PythonEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'keyless-python-client-'));
  const interpreter = process.env.PYTHON ?? 'python3';
  const [, venvMs] = await timed(() => run(interpreter, ['-m', 'venv', join(dir, 'venv')], { timeout: 120_000 }));
  const python = join(dir, 'venv/bin/python');
  const pins = await pinned();
  const { stdout: tag } = await run(python, ['-c', 'import sys, sysconfig; print(sysconfig.get_platform(), sys.implementation.cache_tag)']);
  const hash = createHash('sha256').update(pins.join('\n')).update(tag).digest('hex').slice(0, 16);
  const wheels = join(REPO, '.tools/python-wheels', hash);
  const pip = (args: string[], timeout: number) =>
    run(python, ['-m', 'pip', '--disable-pip-version-check', '--no-input', ...args], { timeout, env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' }, maxBuffer: 16 << 20 });
  const constraints = CONSTRAINTS.flatMap((f) => ['--constraint', f]);
  let downloadMs = 0;
  if (!existsSync(join(wheels, '.complete'))) {
    const staging = `${wheels}.partial.${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    // Every pinned distribution (the client's dependencies, pytest, the build backend), as wheels.
    [, downloadMs] = await timed(() => pip(['download', '--quiet', '--dest', staging, ...constraints, ...pins], 600_000));
    await writeFile(join(staging, '.complete'), `${pins.join('\n')}\n`);
    await rm(wheels, { recursive: true, force: true });
    await rename(staging, wheels).catch(async (err) => {
      // Another run finished first: use its copy.
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(join(wheels, '.complete'))) throw err;
    });
  }
  // pip builds a local folder in place (build/, *.egg-info): install a copy, so the work tree stays clean.
  const source = join(dir, 'keyless-route');
  await cp(CLIENT_DIR, source, { recursive: true, filter: (path) => !/\/(tests|build|[^/]*\.egg-info|__pycache__|\.pytest_cache)$/.test(path) });
  const [, installMs] = await timed(() => pip(['install', '--quiet', '--no-index', '--find-links', wheels, ...constraints, source, 'pytest'], 600_000));
  return { python, dir, timings: { venvMs, downloadMs, installMs } };
}

export interface PythonClientCloud {
  emulator: RunningEmulator;
  /** The environment pytest runs with (no value from the caller's environment leaks in). */
  env: Record<string, string>;
  keyUid: string;
  close(): Promise<void>;
}

export const FIXTURE: FixtureInput = {
  projects: [{ id: PROJECT, number: '480213697513' }],
  serviceAccounts: [
    // The pipeline's own account, as a finished migration leaves it: it may call Vertex and read routes.
    { project: PROJECT, accountId: PIPELINE, roles: ['roles/aiplatform.user', 'roles/storage.objectViewer'], attachable: true, uniqueId: PIPELINE_UNIQUE_ID },
    // The orchestrator: publishes routes, and may mint the pipeline account's tokens (impersonation).
    { project: PROJECT, accountId: 'keyless', roles: ['roles/storage.objectAdmin', 'roles/iam.serviceAccountTokenCreator', 'roles/monitoring.viewer'], downloadableKey: true },
  ],
  keys: [{ project: PROJECT, keyId: PIPELINE, keyString: KEY_STRING, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } }],
  buckets: [{ name: BUCKET, project: PROJECT }],
  iamPropagationDelaySeconds: 0,
  models: demoModels,
};

export async function startPythonClientCloud(): Promise<PythonClientCloud> {
  const emulator = await startEmulator({ fixture: FIXTURE });
  const home = await mkdtemp(join(tmpdir(), 'keyless-python-home-'));
  const publisherKey = join(home, 'publisher.json');
  await writeFile(publisherKey, JSON.stringify(await emulator.issueKey(PUBLISHER)), { mode: 0o600 });
  const metadata = emulator.metadataHosts[PIPELINE_ACCOUNT]!;
  const key = emulator.core.keyByString(KEY_STRING);
  if (!key) throw new Error('the fixture key is missing');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CACHE_HOME: join(home, 'cache'),
    PYTHONDONTWRITEBYTECODE: '1',
    NO_PROXY: '127.0.0.1,localhost',
    // Emulator mode; ADC is the pipeline account's metadata server, as on a VM it runs on.
    KEYLESS_EMULATOR: emulator.baseUrl,
    GCE_METADATA_HOST: metadata,
    GCE_METADATA_IP: metadata,
    KEYLESS_TEST_PROJECT: PROJECT,
    KEYLESS_TEST_PIPELINE: PIPELINE,
    KEYLESS_TEST_ACCOUNT: PIPELINE_ACCOUNT,
    KEYLESS_TEST_ACCOUNT_UNIQUE_ID: PIPELINE_UNIQUE_ID,
    KEYLESS_TEST_KEY_UID: key.uid,
    KEYLESS_TEST_API_KEY: KEY_STRING,
    KEYLESS_TEST_BUCKET: BUCKET,
    KEYLESS_TEST_PUBLISHER_KEY_FILE: publisherKey,
    KEYLESS_TEST_NODE: process.execPath,
  };
  return {
    emulator,
    env,
    keyUid: key.uid,
    close: async () => {
      await emulator.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const cloud = await startPythonClientCloud();
  console.log(Object.entries(cloud.env).map(([k, v]) => `export ${k}='${v}'`).join('\n'));
  const stop = () => void cloud.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
