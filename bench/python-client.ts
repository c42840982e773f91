// Drives bench/python-client.py: the Python client's per-call overhead over a direct google.genai
// call (target ≤ 1.02×), a cached route lookup, and `python -m keyless_route exec` start-up over
// running the command directly (median of 20, warm route cache). Makes a fresh venv with
// clients/python installed by pip (wheels cached under .tools/) and the emulator estate the
// Python tests use. Prints figures; not a test.
//   npx tsx bench/python-client.ts [callsPerPath=3000]

import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createPythonEnv, REPO, startPythonClientCloud } from '../test/python-client/harness';

const venv = await createPythonEnv();
const cloud = await startPythonClientCloud();
try {
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(venv.python, [join(REPO, 'bench/python-client.py'), process.argv[2] ?? '3000'], { env: cloud.env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  process.exitCode = code;
} finally {
  await cloud.close();
  await rm(venv.dir, { recursive: true, force: true });
}
