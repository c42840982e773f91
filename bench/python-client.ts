// The pipeline side's overheads in one table: drives bench/python-client.py (the Python client's
// per-call overhead over a direct google.genai call, target ≤ 1.02×; a cached route lookup;
// `python -m keyless_route exec` start-up), then adds the rows of `keyless exec` from the compiled
// CLI (dist/, built first): its start-up over running the command directly, median of 20
// alternating runs with a warm route cache, target ≤ 150 ms. Makes a fresh venv with clients/python
// installed by pip (wheels cached under .tools/) and the emulator estate the Python tests use.
// Prints figures; not a test.
//   npx tsx bench/python-client.ts [callsPerPath=3000]

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPythonEnv, PIPELINE_ACCOUNT, PROJECT, REPO, startPythonClientCloud } from '../test/python-client/harness';

/** Wall time of one run of `argv`, in ms. */
function runMs(argv: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(argv[0]!, argv.slice(1), { env, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}`);
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `keyless exec`'s start-up from the compiled CLI against starting the command directly, alternating so drift hits both. */
async function execStartup(runs = 20): Promise<{ direct: number; exec: number; coldExec: number; node: number }> {
  execFileSync(process.execPath, ['--import', join(REPO, 'node_modules/tsx/dist/loader.mjs'), join(REPO, 'scripts/build.ts')], { cwd: REPO, stdio: 'inherit' });
  const dir = await mkdtemp(join(tmpdir(), 'keyless-bench-exec-'));
  try {
    await mkdir(join(dir, 'routes', PROJECT), { recursive: true });
    const route = { pipeline: 'on-key', generation: 1, vertexPercent: 0, project: PROJECT, location: 'global', serviceAccount: PIPELINE_ACCOUNT, updatedAt: '2026-11-30T00:00:00Z' };
    await writeFile(join(dir, 'routes', PROJECT, 'on-key.json'), JSON.stringify(route));
    const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };
    const command = ['true'];
    const exec = [process.execPath, join(REPO, 'dist/client/main.js'), 'exec', '--pipeline', 'on-key', '--store', `file://${join(dir, 'routes')}`, '--project', PROJECT];
    // Warm the route cache on disk (and the file system's caches), then alternate.
    runMs([...exec, '--', ...command], env);
    const direct: number[] = [];
    const warm: number[] = [];
    const cold: number[] = [];
    const node: number[] = [];
    for (let i = 0; i < runs; i++) {
      direct.push(runMs(command, env));
      warm.push(runMs([...exec, '--', ...command], env));
      cold.push(runMs([...exec, '--ttl', '0', '--', ...command], env));
      node.push(runMs([process.execPath, '-e', '0'], env));
    }
    return { direct: median(direct), exec: median(warm), coldExec: median(cold), node: median(node) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const venv = await createPythonEnv();
const cloud = await startPythonClientCloud();
try {
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(venv.python, [join(REPO, 'bench/python-client.py'), process.argv[2] ?? '3000'], { env: cloud.env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  process.exitCode = code;
  const e = await execStartup();
  const overhead = e.exec - e.direct;
  console.log(`| keyless exec start-up, compiled CLI, warm route cache (median of 20) | ${e.exec.toFixed(1)} ms vs ${e.direct.toFixed(1)} ms direct | +${overhead.toFixed(1)} ms | ≤ 150 ms: ${overhead <= 150 ? 'met' : 'NOT met'} |`);
  console.log(`| keyless exec start-up, route read from the store each run (--ttl 0) | ${e.coldExec.toFixed(1)} ms | +${(e.coldExec - e.direct).toFixed(1)} ms | |`);
  console.log(`| for scale: node -e 0 | ${e.node.toFixed(1)} ms | | |`);
} finally {
  await cloud.close();
  await rm(venv.dir, { recursive: true, force: true });
}
