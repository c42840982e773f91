// Workflow code runs in Temporal's deterministic sandbox: a workflow file may import only its own
// folder, contracts/ and the Temporal workflow API; contracts/ only itself, zod and Temporal's
// sandbox-safe packages. Type-only imports are held to the same rule, so the sandbox's code never
// depends on activities, the Google library or Node, even for a type. (The lint rule in
// eslint.config.js says the same for editors; this test also resolves each relative path.)

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

const RULES = {
  workflows: { folders: ['workflows', 'contracts'], packages: ['@temporalio/workflow'] },
  contracts: { folders: ['contracts'], packages: ['@temporalio/workflow', '@temporalio/common', 'zod'] },
} as const;

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(folder, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^'";]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
}

it('reads the imports of the sandbox files (the pattern is not blind)', () => {
  const all = [...sources('workflows'), ...sources('contracts')].flatMap(imports);
  expect(all.length).toBeGreaterThan(50);
  expect(all).toContain('@temporalio/workflow');
});

describe.each(Object.keys(RULES) as (keyof typeof RULES)[])('%s/ imports', (folder) => {
  const rule = RULES[folder];
  it.each(sources(folder))('%s stays inside the sandbox', (file) => {
    for (const from of imports(file)) {
      if (from.startsWith('.')) {
        const target = relative(root, join(dirname(join(root, file)), from));
        expect(rule.folders.some((f) => target === f || target.startsWith(`${f}/`)), `${file} imports ${from} (${target})`).toBe(true);
        continue;
      }
      expect((rule.packages as readonly string[]).includes(from), `${file} imports ${from}`).toBe(true);
    }
  });
});
