// The Python client (clients/python) as a user gets it: a fresh virtual environment, `pip install
// clients/python` (dependencies pinned; wheels cached under .tools/), and its pytest suite run there
// against the emulator with the real google-genai, google-auth and google-cloud-storage, and with
// unchanged Python and Node jobs under `python -m keyless_route exec`. Each pytest file is one test
// here; a skipped pytest test fails it (the emulator estate is always there).

import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_DIR, createPythonEnv, REPO, startPythonClientCloud, type PythonClientCloud, type PythonEnv } from './harness';

const run = promisify(execFile);

interface PytestCase {
  file: string;
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  message: string;
}

let venv: PythonEnv;
let cloud: PythonClientCloud;
let cases: PytestCase[] = [];
let pytestMs = 0;
let pytestOutput = '';

function unescapeXml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#10;/g, '\n').replace(/&amp;/g, '&');
}

/** The test cases of pytest's JUnit XML report. */
function parseJunit(xml: string): PytestCase[] {
  const out: PytestCase[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, unescapeXml(a[2]!)]));
    const body = m[2] ?? '';
    // The message attribute, else the element's text (pytest puts the traceback there).
    const failure = /<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    const skipped = /<skipped\b([^>]*?)(?:\/>|>)/.exec(body);
    const messageOf = (attrText: string | undefined, text?: string) => /message="([^"]*)"/.exec(attrText ?? '')?.[1] || text?.trim() || '';
    out.push({
      // classname is "tests.test_split" (or "tests.test_split.SomeClass").
      file: String(attrs.classname ?? '').replace(/^tests\./, '').split('.')[0] ?? '',
      name: attrs.name ?? '',
      outcome: failure ? 'failed' : skipped ? 'skipped' : 'passed',
      message: unescapeXml(failure ? messageOf(failure[2], failure[3]) : skipped ? messageOf(skipped[1]) : ''),
    });
  }
  return out;
}

beforeAll(async () => {
  venv = await createPythonEnv();
  cloud = await startPythonClientCloud();
  const report = join(venv.dir, 'pytest.xml');
  const started = performance.now();
  try {
    const { stdout } = await run(venv.python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--junitxml', report, 'tests'], {
      cwd: CLIENT_DIR,
      env: cloud.env,
      timeout: 900_000,
      maxBuffer: 64 << 20,
    });
    pytestOutput = stdout;
  } catch (err) {
    // pytest exits 1 when a test failed: the report says which.
    pytestOutput = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}${String(err)}`;
  }
  pytestMs = performance.now() - started;
  cases = parseJunit(await readFile(report, 'utf8').catch(() => ''));
  const t = venv.timings;
  console.log(
    `python client: venv ${(t.venvMs / 1000).toFixed(1)} s, wheels download ${(t.downloadMs / 1000).toFixed(1)} s${t.downloadMs === 0 ? ' (cached)' : ''}, ` +
      `pip install ${(t.installMs / 1000).toFixed(1)} s, pytest ${(pytestMs / 1000).toFixed(1)} s (${cases.length} tests)`,
  );
}, 1_500_000);

afterAll(async () => {
  await cloud?.close();
  if (venv) await rm(venv.dir, { recursive: true, force: true });
});

const FILES = ['test_split', 'test_route_rules', 'test_environment', 'test_cache', 'test_client', 'test_exec'];

describe('the Python client in a fresh virtual environment', () => {
  it('installs from clients/python with pip and imports without the genai SDK for exec', async () => {
    const { stdout } = await run(venv.python, ['-c', 'import sys, keyless_route, keyless_route.cli; print(keyless_route.__file__); print("google.genai" in sys.modules)']);
    const [file, genaiLoaded] = stdout.trim().split('\n');
    // The installed copy, not the source tree.
    expect(file).toContain(join(venv.dir, 'venv'));
    expect(genaiLoaded).toBe('False');
  });

  it('pins google-genai and google-auth as scripts/python-clients.sh does', async () => {
    const script = await readFile(join(REPO, 'scripts/python-clients.sh'), 'utf8');
    const constraints = await readFile(join(CLIENT_DIR, 'tests/constraints.txt'), 'utf8');
    for (const name of ['google-genai', 'google-auth']) {
      const pinned = new RegExp(`${name}==([0-9.]+)`).exec(script)![1];
      expect(constraints).toContain(`${name}==${pinned}`);
    }
    const { stdout } = await run(venv.python, ['-c', 'from importlib.metadata import version as v; print(v("google-genai"), v("google-auth"), v("google-cloud-storage"))']);
    expect(stdout.trim()).toBe('3.6.1 2.63.0 3.17.1');
  });

  it('ran every pytest test, none skipped', () => {
    expect(cases.length, pytestOutput.slice(-4000)).toBeGreaterThanOrEqual(140);
    expect(cases.filter((c) => c.outcome === 'skipped').map((c) => `${c.name}: ${c.message}`)).toEqual([]);
    expect(new Set(cases.map((c) => c.file))).toEqual(new Set(FILES));
  });

  for (const file of FILES) {
    it(`pytest ${file}.py passes`, () => {
      const mine = cases.filter((c) => c.file === file);
      expect(mine.length, pytestOutput.slice(-4000)).toBeGreaterThan(0);
      expect(mine.filter((c) => c.outcome !== 'passed').map((c) => `${c.name}: ${c.message.slice(0, 1500)}`)).toEqual([]);
    });
  }
});
