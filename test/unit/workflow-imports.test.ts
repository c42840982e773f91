// Workflow code runs in Temporal's deterministic sandbox: it may import only contracts/, other
// workflow modules, zod and the Temporal workflow API, and activities only as types.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ALLOWED_PACKAGES = new Set(['@temporalio/workflow', '@temporalio/common', 'zod']);

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(folder, f));
}

function imports(file: string): { typeOnly: boolean; from: string }[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)].map((m) => ({ typeOnly: Boolean(m[1]), from: m[2]! }));
}

describe.each(['workflows', 'contracts'])('%s/ imports', (folder) => {
  it.each(sources(folder))('%s stays inside the sandbox', (file) => {
    for (const { typeOnly, from } of imports(file)) {
      if (typeOnly) continue;
      if (from.startsWith('.')) {
        expect(from, `${file} imports ${from}`).not.toMatch(/(^|\/)\.\.\/(activities|worker|client|emulator)(\/|$)/);
        continue;
      }
      expect(ALLOWED_PACKAGES.has(from), `${file} imports ${from}`).toBe(true);
    }
  });
});
