// Lint for the whole tree, run by the README's test command (npm test). Typed rules catch what
// the compiler lets through: a promise nobody awaits, a value import that should be a type. The
// sandbox rules keep workflow code deterministic: workflows/ may import only its own folder,
// contracts/ and @temporalio/workflow; contracts/ only itself, zod and Temporal's sandbox-safe
// packages (test/unit/workflow-imports.test.ts checks the same with resolved paths).

import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = { regex: `^(node:.*|${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`, message: 'workflow code runs in the deterministic sandbox: no Node built-ins' };
const OUTSIDE_SANDBOX = 'activities|google|route-store|worker|client|emulator|gemini-client|examples|bench|test';

/** Imports a file `depth` folders below the repository root may not make from the sandbox. */
function sandboxed(depth, packages) {
  const up = depth === 0 ? '\\./' : `(\\.\\./){${depth}}`;
  return [
    'error',
    {
      patterns: [
        NODE_BUILTINS,
        { regex: `^${up}(${OUTSIDE_SANDBOX})(/|$)`, message: 'workflow and contract code may import only workflows/ and contracts/ (activities only as the contract type in contracts/activities.ts)' },
        { regex: `^(?!\\.|(${packages.map((p) => p.replace(/[/]/g, '\\/')).join('|')})$)`, message: `only ${packages.join(', ')} may be imported here` },
      ],
    },
  ];
}

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.keyless/**', 'dist/**', 'test/artifacts/**', 'bench/results/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  { files: ['workflows/*.ts'], rules: { 'no-restricted-imports': sandboxed(1, ['@temporalio/workflow']) } },
  { files: ['workflows/*/*.ts'], rules: { 'no-restricted-imports': sandboxed(2, ['@temporalio/workflow']) } },
  { files: ['contracts/*.ts'], rules: { 'no-restricted-imports': sandboxed(1, ['@temporalio/workflow', '@temporalio/common', 'zod']) } },
);
