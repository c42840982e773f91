// The keyless npm package as people get it: `npm pack` (which builds dist/ through prepack), then
// `npm install <tarball>` into an empty folder with the registry, and there: `npx keyless --help`
// from compiled code, `keyless exec`, `import { createGeminiClient } from 'keyless/gemini-client'`,
// the dependency closure of that entry (no Temporal, no admin client), and `npx keyless demo --yes`
// to the end, with the Temporal CLI (and the Python job's google-genai) installed on first use into
// the per-user cache. The demo is the slow part: about two minutes.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from '../support/processes';

const run = promisify(execFile);
const REPO = resolve(new URL('../..', import.meta.url).pathname);
/** What `keyless/gemini-client` may pull in: what a pipeline needs, and their own dependencies. */
const PIPELINE_PACKAGES = ['@google/genai', 'google-auth-library', '@google-cloud/storage', 'zod'];
const FORBIDDEN = /^(@temporalio\/|@google-cloud\/(apikeys|monitoring|iam)$|@googleapis\/)/;

let dir: string;
let app: string;
let tarball: string;
const timings: Record<string, number> = {};
let env: Record<string, string>;

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings[name] = performance.now() - started;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-package-'));
  app = join(dir, 'app');
  await mkdir(app);
  const { stdout } = await timed('pack', () => run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, timeout: 300_000, maxBuffer: 64 << 20 }));
  tarball = join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'a-pipeline', private: true, type: 'module' }));
  env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? homedir(),
    // The per-user cache of this "machine": the Temporal CLI lands here on first use.
    XDG_CACHE_HOME: join(dir, 'cache'),
    // pip's own download cache stays where it is, so a second run of this test fetches nothing again.
    PIP_CACHE_DIR: process.env.PIP_CACHE_DIR ?? join(homedir(), '.cache', 'pip'),
    ...(process.env.PIP_FIND_LINKS ? { PIP_FIND_LINKS: process.env.PIP_FIND_LINKS } : {}),
    NO_PROXY: '127.0.0.1,localhost',
  };
  await timed('install', () => run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: app, env, timeout: 600_000, maxBuffer: 64 << 20 }));
}, 900_000);

afterAll(async () => {
  console.log(`package: npm pack (with the build) ${(timings.pack! / 1000).toFixed(1)} s, npm install ${(timings.install! / 1000).toFixed(1)} s, demo ${((timings.demo ?? 0) / 1000).toFixed(1)} s`);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed tarball, installed into an empty folder', () => {
  it('holds compiled code with declarations, no TypeScript sources, and its package.json is exported', async () => {
    const installed = join(app, 'node_modules/keyless');
    expect(existsSync(join(installed, 'dist/client/main.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/gemini-client/index.d.ts'))).toBe(true);
    expect(existsSync(join(installed, 'client/main.ts'))).toBe(false);
    expect(realpathSync(join(app, 'node_modules/.bin/keyless'))).toBe(realpathSync(join(installed, 'dist/client/main.js')));
    const { stdout } = await run(process.execPath, ['-e', "import('keyless/package.json', { with: { type: 'json' } }).then((m) => console.log(m.default.name, m.default.private ?? false))"], { cwd: app, env });
    expect(stdout.trim()).toBe('keyless false');
  });

  it('`npx keyless --help` lists the verbs, from compiled code without tsx', async () => {
    const { stdout } = await run('npx', ['--no-install', 'keyless', '--help'], { cwd: app, env, timeout: 60_000 });
    for (const verb of ['demo', 'exec', 'migrate', 'approve', 'doctor']) expect(stdout).toMatch(new RegExp(`^  ${verb} `, 'm'));
    const help = await run('npx', ['--no-install', 'keyless', 'exec', '--help'], { cwd: app, env, timeout: 60_000 });
    expect(help.stdout).toMatch(/^Usage: keyless exec --pipeline <name> --store/m);
    // Nothing in the installed package runs through tsx.
    const mainJs = readFileSync(join(app, 'node_modules/keyless/dist/client/main.js'), 'utf8');
    expect(mainJs.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(mainJs).not.toContain('tsx');
  });

  it('`keyless exec` runs a command on its route', async () => {
    const store = join(dir, 'routes');
    await mkdir(join(store, 'demo-project'), { recursive: true });
    const route = { pipeline: 'nightly-summarizer', generation: 3, vertexPercent: 100, project: 'demo-project', location: 'global', serviceAccount: 'nightly-summarizer@demo-project.iam.gserviceaccount.com', updatedAt: '2026-11-30T00:00:00Z' };
    await writeFile(join(store, 'demo-project/nightly-summarizer.json'), JSON.stringify(route));
    const { stdout, stderr } = await run('npx', ['--no-install', 'keyless', 'exec', '--pipeline', 'nightly-summarizer', '--store', `file://${store}`, '--project', 'demo-project', '--run-id', 'r1', '--', 'sh', '-c', 'echo $GOOGLE_GENAI_USE_VERTEXAI $GOOGLE_CLOUD_LOCATION'], { cwd: app, env, timeout: 60_000 });
    expect(stdout.trim()).toBe('true global');
    expect(stderr.trim()).toBe('keyless: nightly-summarizer run r1: vertex (route generation 3)');
  });

  it("`import { createGeminiClient } from 'keyless/gemini-client'` works, with its types", async () => {
    const script = [
      "import { createGeminiClient, splitBucket } from 'keyless/gemini-client';",
      "const client = createGeminiClient({ pipeline: 'nightly-summarizer', project: 'demo-project', route: { store: 'file://./routes' }, env: { GEMINI_API_KEY: 'AIza' + 'x'.repeat(35) } });",
      "const view = await client.route();",
      "console.log(typeof client.models.generateContent, view.route === undefined, splitBucket('nightly-summarizer', 'run-0'));",
    ].join('\n');
    await writeFile(join(app, 'use-client.mjs'), script);
    const { stdout } = await run(process.execPath, ['use-client.mjs'], { cwd: app, env, timeout: 60_000 });
    expect(stdout.trim()).toBe('function true 81');
    const types = readFileSync(join(app, 'node_modules/keyless/dist/gemini-client/index.d.ts'), 'utf8');
    expect(types).toContain('createGeminiClient');
  });

  it('`keyless/gemini-client` pulls in only what a pipeline needs: no Temporal, no admin client, in its whole dependency closure', () => {
    const installed = join(app, 'node_modules/keyless');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
    const { files, packages } = importGraph(join(installed, pkg.exports['./gemini-client']!.default));
    // Only the client's own folder and the libraries below it, never the orchestrator's.
    const folders = new Set([...files].map((f) => f.slice(installed.length + '/dist/'.length).split('/')[0]));
    expect([...folders].sort()).toEqual(['contracts', 'gemini-client', 'google', 'route-store']);
    expect([...packages].filter((p) => !p.startsWith('node:')).sort()).toEqual([...PIPELINE_PACKAGES].sort());
    const closure = dependencyClosure(PIPELINE_PACKAGES, installed);
    expect([...closure].filter((p) => FORBIDDEN.test(p))).toEqual([]);
    // The orchestrator's entry does reach them, so the check above is not vacuous.
    const orchestrator = importGraph(join(installed, pkg.exports['.']!.default)).packages;
    expect([...orchestrator].filter((p) => FORBIDDEN.test(p)).length).toBeGreaterThan(3);
  });

  it('`npx keyless demo --yes` runs to the end, installing the Temporal CLI into the per-user cache on first use', async () => {
    const [port, uiPort, emulatorPort] = [await freePort(), await freePort(), await freePort()];
    const result = await timed('demo', () => runDemo(['--no-install', 'keyless', 'demo', '--yes', '--json', '--port', String(port), '--ui-port', String(uiPort), '--emulator-port', String(emulatorPort)]));
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toContain(`installing the pinned Temporal CLI into ${join(dir, 'cache/keyless/tools')}`);
    expect(statSync(join(dir, 'cache/keyless/tools/temporal')).isFile()).toBe(true);
    const outcomes = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as { pipeline: string; outcome: string }[];
    expect(Object.fromEntries(outcomes.map((o) => [o.pipeline, o.outcome]))).toEqual({
      'nightly-summarizer': 'completed',
      'ticket-triage': 'rolled-back',
      'report-digest': 'held',
      'feedback-tagger': 'completed',
    });
  }, 900_000);
});

/** The demo in the app folder (its state goes to .keyless/ there), bounded: Ctrl-C after 14 minutes. */
function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToEnd('npx', args, { cwd: app, env, interruptAfterMs: 840_000 });
}

/** Files reachable from `entry` through its relative imports (static and dynamic), and the packages they import. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)"([^"]+)"/gm;
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(specifiers)) {
      if (spec!.startsWith('.')) pending.push(resolve(dirname(file), spec!));
      else packages.add(spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!);
    }
  }
  return { files, packages };
}

/** Every package `roots` depend on (dependencies and optional ones), found as npm installed them. */
function dependencyClosure(roots: string[], from: string): Set<string> {
  const seen = new Set<string>();
  const pending = roots.map((name) => ({ name, from }));
  while (pending.length > 0) {
    const { name, from: at } = pending.pop()!;
    const dir = packageDir(name, at);
    if (!dir || seen.has(`${name}@${dir}`)) continue;
    seen.add(`${name}@${dir}`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) pending.push({ name: dep, from: dir });
  }
  return new Set([...seen].map((s) => s.slice(0, s.lastIndexOf('@'))));
}

function packageDir(name: string, from: string): string | undefined {
  for (let at = from; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(at) === at) return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
