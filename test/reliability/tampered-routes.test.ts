// Given someone who can write to the route store, when they tamper with a pipeline's route
// document, then no reader follows it: the TypeScript client, `keyless exec`, the Python client,
// `keyless doctor` and the workflow's shared-key read each refuse it, name the field, never the
// value, and stay on the key. Also: a key annotation cannot climb out of the store, two projects'
// pipelines of one name get two documents, and rollback publishes over a generation pinned ahead.

import { execFile, spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../client/commands/doctor';
import { createRouteActivities } from '../../activities/routes';
import { ErrorType, type KeylessError } from '../../contracts/errors';
import { routeLocation, type Route } from '../../contracts/route';
import { createGeminiClient } from '../../gemini-client';
import { pipelinesOf } from '../../google/keys/model';
import { builtInRouteStores, fileRouteStore, publishRouteTo, readRouteFrom } from '../../route-store';
import { recordScenario } from '../support/scenarios';

const run = promisify(execFile);
const REPO = resolve(new URL('../..', import.meta.url).pathname);
const TSX = join(REPO, 'node_modules/tsx/dist/loader.mjs');
const MAIN = join(REPO, 'client/main.ts');
const PROJECT = 'demo-project';
const PIPELINE = 'nightly-summarizer';
const ACCOUNT = `${PIPELINE}@${PROJECT}.iam.gserviceaccount.com`;
const KEY = `AIzaTamper${'T'.repeat(29)}`;
const DAY = 86_400_000;

const good = (over: Partial<Route> = {}): Route => ({
  pipeline: PIPELINE,
  generation: Date.now() - 60_000,
  vertexPercent: 100,
  project: PROJECT,
  location: 'global',
  serviceAccount: ACCOUNT,
  updatedAt: new Date().toISOString(),
  ...over,
});

/** Each tampering, the document's text and the field every reader must name. */
const TAMPERED: { name: string; text: () => string; field: string; secret?: string }[] = [
  { name: 'a location that sends prompts and tokens to another host', text: () => JSON.stringify(good({ location: 'evil.example#' })), field: 'location', secret: 'evil.example' },
  { name: 'an account of another project', text: () => JSON.stringify(good({ serviceAccount: 'attacker@evil-project.iam.gserviceaccount.com' })), field: 'serviceAccount', secret: 'attacker' },
  { name: 'a far-future generation that would pin every cache', text: () => JSON.stringify(good({ generation: Date.now() + 365 * DAY })), field: 'generation' },
  { name: 'a document larger than 16 KiB', text: () => `${JSON.stringify(good()).slice(0, -1)}${' '.repeat(20_000)}}`, field: '(document)' },
  { name: 'a key string where the location goes', text: () => JSON.stringify(good({ location: KEY })), field: 'location', secret: KEY },
];

let dir: string;
let store: string;
const proved = new Map<string, number>();
const prove = (reader: string) => proved.set(reader, (proved.get(reader) ?? 0) + 1);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-tampered-'));
  store = `file://${dir}/routes`;
});

afterAll(async () => {
  const readers = ['TypeScript client', 'keyless exec', 'Python client', 'keyless doctor', 'shared-key read'];
  if (readers.every((r) => proved.get(r) === TAMPERED.length)) {
    recordScenario({ scenario: 'tampered route refused by each reader', runs: TAMPERED.length * readers.length, outcome: `${TAMPERED.length} tamperings (evil location, another project's account, far-future generation, 17 KiB+, a key string) × ${readers.join(', ')}: refused naming the field, the key kept, no value echoed` });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function plant(text: string): Promise<void> {
  await mkdir(join(dir, 'routes', PROJECT), { recursive: true });
  await writeFile(join(dir, 'routes', PROJECT, `${PIPELINE}.json`), text);
}

function keylessExec(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'exec', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const PYTHON_VIEW = `
import json, sys
from keyless_route import route_client
c = route_client(sys.argv[1], sys.argv[2], project=sys.argv[3], api_key="unused", disk_cache=False, env={})
v = c.route()
print(json.dumps({"route": None if v.route is None else v.route.to_document(), "stale": v.stale, "error": v.error}))
`;

describe('a tampered route document', () => {
  for (const t of TAMPERED) {
    describe(t.name, () => {
      beforeAll(async () => plant(t.text()));

      it('the TypeScript client stays on the key and says which field, not what it held', async () => {
        const client = createGeminiClient({ pipeline: PIPELINE, project: PROJECT, route: { store }, env: { GEMINI_API_KEY: KEY } });
        const view = await client.route();
        expect(view.route).toBeUndefined();
        expect(view.stale).toBe(true);
        expect(view.error).toContain(t.field === '(document)' ? 'larger than 16 KiB' : t.field);
        if (t.secret) expect(view.error).not.toContain(t.secret);
        prove('TypeScript client');
      });

      it('keyless exec runs the command on the key', async () => {
        const cache = join(dir, `cache-${Math.random().toString(36).slice(2)}`);
        const env = { PATH: process.env.PATH ?? '', HOME: dir, GEMINI_API_KEY: KEY, KEYLESS_CACHE_DIR: cache };
        const result = await keylessExec(['--pipeline', PIPELINE, '--store', store, '--project', PROJECT, '--', process.execPath, '-e', 'process.stdout.write(String(process.env.GOOGLE_GENAI_USE_VERTEXAI ?? "key"))'], env);
        expect(result.code).toBe(0);
        expect(result.stdout).toBe('key');
        expect(result.stderr).toContain(t.field === '(document)' ? 'larger than 16 KiB' : t.field);
        if (t.secret) expect(result.stderr + result.stdout).not.toContain(t.secret);
        prove('keyless exec');
      });

      it('the Python client refuses it', async () => {
        const { stdout } = await run('python3', ['-c', PYTHON_VIEW, PIPELINE, store, PROJECT], { env: { PATH: process.env.PATH ?? '', PYTHONPATH: join(REPO, 'clients/python/src'), HOME: dir }, timeout: 60_000 });
        const view = JSON.parse(stdout) as { route: unknown; stale: boolean; error: string };
        expect(view.route).toBeNull();
        expect(view.stale).toBe(true);
        expect(view.error).toContain(t.field === '(document)' ? 'larger than 16 KiB' : t.field);
        if (t.secret) expect(view.error).not.toContain(t.secret);
        prove('Python client');
      });

      it('keyless doctor reports it as blocking', async () => {
        const report = await runDoctor({ pipeline: PIPELINE, routeStore: store, project: PROJECT, models: [], env: { GEMINI_API_KEY: KEY } });
        const finding = report.findings.find((f) => f.check === 'route');
        expect(finding).toMatchObject({ ok: false, blocking: true });
        expect(finding!.message).toContain(t.field === '(document)' ? 'larger than 16 KiB' : t.field);
        if (t.secret) expect(JSON.stringify(report)).not.toContain(t.secret);
        prove('keyless doctor');
      });

      it("the workflow's shared-key read fails with RouteRefused, never a route", async () => {
        const activities = createRouteActivities(builtInRouteStores(() => {
          throw new Error('file store only');
        }));
        const failure = (await activities.readRoute({ store, pipeline: PIPELINE, project: PROJECT }).then(() => undefined, (err: unknown) => err)) as KeylessError;
        expect(failure.type).toBe(ErrorType.RouteRefused);
        expect(failure.nonRetryable).toBe(true);
        if (t.secret) expect(failure.message).not.toContain(t.secret);
        prove('shared-key read');
      });
    });
  }
});

describe('paths stay inside the store', () => {
  it('a key annotation naming ../ never becomes a path, and a name that would is refused where locations are built', async () => {
    expect(pipelinesOf({ 'keyless.dev/pipeline': 'report-digest, ../../etc/passwd ,legacy-exporter,a/b,..' })).toEqual(['report-digest', 'legacy-exporter']);
    expect(() => routeLocation(store, '../../etc/passwd')).toThrow(/pipeline/);
    expect(() => routeLocation(store, PIPELINE, '../x')).toThrow(/project/);
    await expect(readRouteFrom(builtInRouteStores(() => undefined as never), store, '../escape', { project: PROJECT })).rejects.toThrow(/pipeline/);
    recordScenario({ scenario: 'route path traversal through a key annotation', runs: 1, outcome: "annotation names that break the pipeline rule dropped; '../' refused wherever a route location is built" });
  });

  it('two projects with a pipeline of the same name get a document each', async () => {
    const stores = { file: fileRouteStore };
    const a = good({ project: 'project-alpha', serviceAccount: `${PIPELINE}@project-alpha.iam.gserviceaccount.com`, vertexPercent: 10 });
    const b = good({ project: 'project-bravo', serviceAccount: `${PIPELINE}@project-bravo.iam.gserviceaccount.com`, vertexPercent: 90 });
    await publishRouteTo(stores, store, a, { path: 'project' });
    await publishRouteTo(stores, store, b, { path: 'project' });
    expect((await readRouteFrom(stores, store, PIPELINE, { project: 'project-alpha' }))?.vertexPercent).toBe(10);
    expect((await readRouteFrom(stores, store, PIPELINE, { project: 'project-bravo' }))?.vertexPercent).toBe(90);
  });

  it('a reader falls back to the old place once, and the old document must name its project', async () => {
    const stores = { file: fileRouteStore };
    const legacy = `file://${dir}/legacy`;
    await publishRouteTo(stores, legacy, good({ vertexPercent: 50 }));
    expect((await readRouteFrom(stores, legacy, PIPELINE, { project: PROJECT }))?.vertexPercent).toBe(50);
    await expect(readRouteFrom(stores, legacy, PIPELINE, { project: 'project-alpha' })).rejects.toMatchObject({ type: ErrorType.RouteRefused });
  });

  it('a write goes through a random, exclusively created temporary file: a planted link at the old name is never followed', async () => {
    const location = routeLocation(`file://${dir}/planted`, PIPELINE, PROJECT);
    const path = location.slice('file://'.length);
    await mkdir(join(dir, 'planted', PROJECT), { recursive: true });
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'untouched');
    await symlink(victim, `${path}.${process.pid}.tmp`);
    await fileRouteStore.write(location, good());
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    expect((await lstat(path)).isFile()).toBe(true);
    const left = await readdir(join(dir, 'planted', PROJECT));
    expect(left.filter((n) => n.endsWith('.tmp') && n !== `${PIPELINE}.json.${process.pid}.tmp`)).toEqual([]);
  });
});

describe('rollback over a generation keyless did not write', () => {
  it('a publish finds a far-future generation and refuses it; rollback writes over it and readers follow the rollback', async () => {
    const at = `file://${dir}/future`;
    const stores = { file: fileRouteStore };
    await mkdir(join(dir, 'future', PROJECT), { recursive: true });
    await writeFile(join(dir, 'future', PROJECT, `${PIPELINE}.json`), JSON.stringify(good({ generation: Number.MAX_SAFE_INTEGER })));
    const ours = good({ vertexPercent: 10, generation: Date.now() });
    await expect(publishRouteTo(stores, at, ours, { path: 'project' })).rejects.toMatchObject({ type: ErrorType.RouteRefused });
    const activities = createRouteActivities(stores);
    const undo = await activities.publishRouteToKey({ store: at, route: { ...ours, generation: ours.generation + 1 }, path: 'project' });
    expect(undo.route!.generation).toBeGreaterThan(ours.generation);
    expect(undo.route!.generation).toBeLessThanOrEqual(Date.now());
    expect(await readRouteFrom(stores, at, PIPELINE, { project: PROJECT })).toMatchObject({ vertexPercent: 0, generation: undo.route!.generation });
  });

  it('a newer generation within the day readers accept: rollback publishes one past it, so caches holding it follow', async () => {
    const at = `file://${dir}/ahead`;
    const stores = { file: fileRouteStore };
    const ahead = Date.now() + 3_600_000;
    await publishRouteTo(stores, at, good({ generation: ahead, vertexPercent: 100 }), { path: 'project' });
    const activities = createRouteActivities(stores);
    const undo = await activities.publishRouteToKey({ store: at, route: good({ generation: Date.now() }), path: 'project' });
    expect(undo.route).toEqual({ generation: ahead + 1, vertexPercent: 0 });
    expect(await readRouteFrom(stores, at, PIPELINE, { project: PROJECT })).toMatchObject({ vertexPercent: 0, generation: ahead + 1 });
    recordScenario({ scenario: 'rollback over a future route generation', runs: 2, outcome: 'a generation a year ahead refused by the publish and overwritten by rollback; one an hour ahead passed by one, so caches follow the rollback' });
  });
});
