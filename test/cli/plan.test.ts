// `keyless plan`: the mutations a migration would make, read from the demo estate without
// changing it.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromCloud as planMigration, renderPlan } from '../../client/commands/plan';
import { UserError } from '../../client/errors';
import { loadSpec } from '../../client/spec-file';
import { validateSpec } from '../../contracts/spec';
import { DEMO_ORCHESTRATOR } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';

const specPath = fileURLToPath(new URL('../../examples/specs/nightly-summarizer.yaml', import.meta.url));
let cloud: TestCloud;

beforeAll(async () => {
  cloud = await startTestCloud();
});

afterAll(async () => {
  await cloud?.stop();
});

interface AuditEntry {
  method: string;
  path: string;
  surface: string;
}

async function auditLog(): Promise<AuditEntry[]> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/audit?limit=20000`);
  expect(res.ok).toBe(true);
  return ((await res.json()) as { entries: AuditEntry[] }).entries;
}

describe('keyless plan', () => {
  it('given the nightly-summarizer spec, lists stopgap, account, binding, token creator, its GitHub Actions pool, provider and binding, the token creator taken back after the dual-run, three routes and finalize, changing nothing', async () => {
    const spec = await loadSpec(specPath);
    const before = await auditLog();
    const [keyBefore] = await cloud.clients.apiKeys.getKey({ name: spec.apiKey });

    const steps = await planMigration(cloud.clients, spec, { orchestratorEmail: DEMO_ORCHESTRATOR });

    const changes = steps.filter((s) => s.mutation !== 'warning' && s.mutation !== 'note');
    expect(changes.map((s) => `${s.stage}:${s.mutation}`)).toEqual([
      'stopgap:key-restricted',
      'provision:account-created',
      'provision:role-granted',
      'provision:token-creator-granted',
      'identity:workload-identity-pool-created',
      'identity:workload-identity-provider-created',
      'identity:workload-identity-user-granted',
      'dual-run:token-creator-removed',
      'canary:route-published',
      'canary:route-published',
      'canary:route-published',
      'finalize:key-restricted',
    ]);
    expect(changes.every((s) => !s.alreadyDone)).toBe(true);
    expect(changes.filter((s) => s.mutation === 'route-published').map((s) => s.detail)).toEqual([
      expect.stringMatching(/10% on Vertex/),
      expect.stringMatching(/50% on Vertex/),
      expect.stringMatching(/100% on Vertex/),
    ]);
    expect(changes[1]!.target).toBe('nightly-summarizer@demo-project.iam.gserviceaccount.com');
    expect(changes[5]!.target).toBe('projects/480213697513/locations/global/workloadIdentityPools/keyless/providers/nightly-summarizer');
    expect(changes[5]!.detail).toContain("assertion.repository_id == '812345678'");
    expect(changes[7]!.target).toBe('nightly-summarizer@demo-project.iam.gserviceaccount.com');
    expect(changes[8]!.target).toBe('file://.keyless/routes/demo-project/nightly-summarizer.json');
    expect(steps.find((s) => s.stage === 'probe')?.detail).toMatch(/gemini-2\.5-flash/);

    const table = renderPlan(steps);
    expect(table).toMatch(/^#\s+STAGE\s+MUTATION/);
    expect(table).toMatch(/12 mutation\(s\) to make/);

    const after = await auditLog();
    expect(after.slice(before.length)).toEqual([]);
    const [keyAfter] = await cloud.clients.apiKeys.getKey({ name: spec.apiKey });
    expect(keyAfter.etag).toBe(keyBefore.etag);
    const account = await cloud.clients.iam.projects.serviceAccounts
      .get({ name: 'projects/demo-project/serviceAccounts/nightly-summarizer@demo-project.iam.gserviceaccount.com' })
      .then(() => true, () => false);
    expect(account).toBe(false);
  });

  it('given a key used by another pipeline, warns that the key is shared', async () => {
    const spec = await loadSpec(specPath);
    const shared = { ...spec, pipeline: 'report-digest', apiKey: 'projects/demo-project/locations/global/keys/report-digest' };
    const steps = await planMigration(cloud.clients, shared);
    const warning = steps.find((s) => s.mutation === 'warning' && /shared/.test(s.detail));
    expect(warning?.detail).toMatch(/legacy-exporter/);
  });

  it('given the key\'s last week in Monitoring, estimates each step at that volume and warns of those that cannot gather their evidence within maxBake', async () => {
    // An hourly job of one call, for a week, as Cloud Monitoring counted it.
    const now = Date.now();
    const week = Array.from({ length: 7 * 24 }, (_, h) => ({ time: new Date(now - (h + 1) * 3_600_000).toISOString(), apiKey: 'ticket-triage', latencyMs: 600 }));
    const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/traffic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: week }) });
    expect(res.ok).toBe(true);
    const base = { ...(await loadSpec(specPath)), pipeline: 'ticket-triage', apiKey: 'projects/demo-project/locations/global/keys/ticket-triage' };
    const specWith = (canary: object) => {
      const result = validateSpec({ ...base, canary });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      return result.spec;
    };

    const defaults = await planMigration(cloud.clients, specWith({}));
    const warnings = defaults.filter((s) => s.stage === 'canary' && s.mutation === 'warning');
    expect(warnings.map((w) => w.detail.split(':')[0])).toEqual(['step 1 (10%) needs 20 Vertex requests', 'step 2 (50%) needs 20 Vertex requests', 'step 3 (100%) needs 20 Vertex requests']);
    expect(warnings[0]!.detail).toMatch(/at the pipeline's 1\.00 requests\/h over the last 7d that takes ~8d8h, past its maxBake 2h; it will wait for promote/);
    expect(defaults.find((s) => s.mutation === 'route-published')!.when).toMatch(/^step 1\/3, bake 30m, until 20 Vertex requests \(at most 2h, then waits for promote\), expected ~8d8h at 0\.1 Vertex requests\/h/);

    const sized = await planMigration(cloud.clients, specWith({ steps: [{ percent: 100, minRequests: 10, maxBake: '24h' }] }));
    expect(sized.filter((s) => s.mutation === 'warning' && s.stage === 'canary')).toEqual([]);
    expect(sized.find((s) => s.mutation === 'route-published')!.when).toMatch(/no bake, until 10 Vertex requests \(at most 1d, then waits for promote\), expected ~10h at 1\.0 Vertex requests\/h/);
  });

  it('given a spec naming a missing key, fails with an error naming apiKey', async () => {
    const spec = await loadSpec(specPath);
    const missing = { ...spec, apiKey: 'projects/demo-project/locations/global/keys/no-such-key' };
    const err = await planMigration(cloud.clients, missing).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^apiKey projects\/demo-project\/locations\/global\/keys\/no-such-key not found/);
  });
});
