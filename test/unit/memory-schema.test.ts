// The memory schema a continued run is parsed with: it has the shape of MigrationMemory (checked by
// the compiler both ways), refuses unknown fields, and memoryProblems refuses a memory that names
// another account, key or pipeline than the spec's.

import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { MigrationMemorySchema, memoryProblems } from '../../contracts/memory';
import type { MigrationMemory } from '../../workflows/migration';

// Compile-time: what the schema yields is a MigrationMemory, and every MigrationMemory is its input.
const fromSchema = (m: z.output<typeof MigrationMemorySchema>): MigrationMemory => m;
const toSchema = (m: MigrationMemory): z.input<typeof MigrationMemorySchema> => m;

const at = '2026-06-01T00:00:00.000Z';
const account = 'nightly-summarizer@demo-project.iam.gserviceaccount.com';
const spec = { pipeline: 'nightly-summarizer', apiKey: 'projects/demo-project/locations/global/keys/nightly-summarizer', accountEmail: account };

function memory(overrides: Partial<MigrationMemory> = {}): MigrationMemory {
  return {
    stage: 'canary',
    repair: false,
    mutations: [{ kind: 'account-created', target: account, detail: 'created', at, undoId: `account:${account}` }],
    decisions: [{ action: 'approve', stage: 'cutover', by: 'alice@example.com', at, verified: true }],
    approvals: [{ stage: 'cutover', decision: 'approved', by: 'alice@example.com', at, verified: true }],
    facts: {
      serviceAccountEmail: account,
      accountCreated: true,
      keySnapshot: { name: 'projects/480213697513/locations/global/keys/nightly-summarizer', restrictions: {}, annotations: {}, displayName: 'n', etag: 'W/"e"', updateTime: at },
    },
    canaryStep: 0,
    routeGeneration: 1,
    vertexPercent: 10,
    analyses: [],
    undos: [{ id: `account:${account}`, activity: 'deleteServiceAccount', input: { email: account } }],
    usedTokens: [{ hash: 'a'.repeat(64), exp: 1_800_000_000 }],
    ...overrides,
  };
}

describe('MigrationMemorySchema', () => {
  it('parses a memory the workflow writes, unchanged', () => {
    const parsed = MigrationMemorySchema.parse(toSchema(memory()));
    expect(fromSchema(parsed)).toEqual(memory());
    expect(memoryProblems(parsed, spec)).toEqual([]);
  });

  it('refuses a field it does not know, at any depth of state', () => {
    expect(MigrationMemorySchema.safeParse({ ...memory(), admin: true }).success).toBe(false);
    expect(MigrationMemorySchema.safeParse({ ...memory(), facts: { ...memory().facts, owner: 'x' } }).success).toBe(false);
    expect(MigrationMemorySchema.safeParse({ ...memory(), undos: [{ id: 'x', activity: 'deleteProject', input: {} }] }).success).toBe(false);
    expect(MigrationMemorySchema.safeParse({ stage: 'canary', rollback: { reason: 'x', at }, facts: {}, mutations: [], vertexPercent: 0 }).success).toBe(false);
  });

  it('finds a memory that would act on another account, key or pipeline', () => {
    const orchestrator = 'keyless@demo-project.iam.gserviceaccount.com';
    const forged = memory({
      facts: { serviceAccountEmail: orchestrator, accountCreated: true, keySnapshot: { ...memory().facts.keySnapshot!, name: 'projects/480213697513/locations/global/keys/website-maps' } },
      undos: [{ id: 'a', activity: 'deleteServiceAccount', input: { email: orchestrator } }, { id: 'r', activity: 'publishRouteToKey', input: { store: 'file:///tmp', route: { pipeline: 'other', generation: 1, vertexPercent: 0, project: 'demo-project', location: 'global', serviceAccount: orchestrator, updatedAt: at } } }],
    });
    const problems = memoryProblems(MigrationMemorySchema.parse(forged), spec);
    expect(problems).toEqual([
      `facts.serviceAccountEmail is ${orchestrator}, not the spec's account ${account}`,
      `facts.keySnapshot is of projects/480213697513/locations/global/keys/website-maps, not the spec's key ${spec.apiKey}`,
      `undos[0] (deleteServiceAccount) would delete ${orchestrator}, not the spec's account`,
      "undos[1] (publishRouteToKey) is another pipeline's route",
    ]);
  });
});
