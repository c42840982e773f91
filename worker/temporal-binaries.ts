// Paths of the Temporal binaries that scripts/temporal-binaries.sh installs (or the user's own).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const toolsDir = fileURLToPath(new URL('../.tools/', import.meta.url));

function pick(variable: string, fallback: string, what: string): string {
  const path = process.env[variable] || fallback;
  if (!existsSync(path)) {
    throw new Error(`${what} not found at ${path}: run \`npm run setup\` (or set ${variable} to a binary you have)`);
  }
  return path;
}

/** The Temporal CLI (`temporal server start-dev`). */
export function temporalCliPath(): string {
  return pick('KEYLESS_TEMPORAL_CLI', `${toolsDir}temporal`, 'the Temporal CLI');
}

/** The Java time-skipping test server. */
export function temporalTestServerPath(): string {
  return pick('KEYLESS_TEMPORAL_TEST_SERVER', `${toolsDir}temporal-test-server`, 'the Temporal time-skipping test server');
}
