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

  it("parses the canary's evidence a long wait carries across continue-as-new, unchanged", () => {
    // Every field the canary's evidence rules keep (analyses with their classes and latency
    // judgement, per-step records, a pending promote, the soak and watch windows): a strict schema
    // that did not know one would fail the continue-as-new of every long wait.
    const traffic = { requests: 4, errors: 0, errorRate: 0, byMethod: [{ method: 'GenerateContent', responseCode: '200', requests: 4 }], latency: { count: 4, meanMs: 800, buckets: [{ lowerMs: 500, upperMs: 1000, count: 4 }] } };
    const reading = { key: traffic, vertex: traffic, windowStart: at, windowEnd: at };
    const classes = { ok: 4, identity: 0, quota: 0, server: 0, notFound: 0, other: 0 };
    const evidence = memory({
      decisions: [{ action: 'promote', stage: 'canary', by: 'alice@example.com', at, verified: true, accepted: { step: 1, percent: 5, vertexRequests: 2, minRequests: 3, bakedMs: 60_000, verdict: 'too-few-requests' } }],
      analyses: [
        {
          step: 1, percent: 5, at, key: { requests: 4, errors: 0, errorRate: 0 }, vertex: { requests: 2, errors: 0, errorRate: 0 }, delta: 0,
          baseline: { source: 'key-before-canary', errorRate: 0, requests: 40 }, allowedDelta: 0.02, verdict: 'too-few-requests', phase: 'evidence-wait',
          classes: { key: classes, vertex: classes }, quota: { vertexRate: 0, baselineRate: 0, allowedDelta: 0.02 },
          latency: { vertex: { count: 2, p50Ms: 1000, p95Ms: 1000 }, baseline: { count: 40, p50Ms: 1000, p95Ms: 2000, source: 'key-before-canary' }, ratio: 1, maxRatio: 1.5, z: null, verdict: 'too-few-requests' },
          minRequests: 3, historyLength: 120,
        },
      ],
      canarySteps: [{ step: 1, percent: 5, vertexRequests: 2, minRequests: 3, bakedMs: 60_000, startedAt: at, evidenceWaitSince: at }],
      analysesOmitted: 2,
      promoteRequested: true,
      facts: { ...memory().facts, keyBeforeCanary: traffic, soakWindow: { baseline: reading, since: at, quietUntil: at }, watchBaseline: reading, approvalSince: { finalize: at }, soak: { keyRequests: 0, byMethod: [], vertexRequests: 3 } },
    });
    expect(fromSchema(MigrationMemorySchema.parse(toSchema(evidence)))).toEqual(evidence);
  });

  it("parses the route's undo with the place its migration publishes at (routes by project)", () => {
    const route = { pipeline: 'nightly-summarizer', generation: 3, vertexPercent: 0, project: 'demo-project', location: 'global', serviceAccount: account, updatedAt: at };
    const routed = memory({ undos: [...memory().undos!, { id: 'route', activity: 'publishRouteToKey', input: { store: 'file://.keyless/routes', route, path: 'project' } }] });
    const parsed = MigrationMemorySchema.safeParse(toSchema(routed));
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(fromSchema(parsed.data!)).toEqual(routed);
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
