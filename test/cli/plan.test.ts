// `keyless plan`: the mutations a migration would make, read from the demo estate without
// changing it.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromCloud as planMigration, renderPlan } from '../../client/commands/plan';
import { UserError } from '../../client/errors';
import { loadSpec } from '../../client/spec-file';
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
  it('given the nightly-summarizer spec, lists stopgap, account, binding, token creator, three routes and finalize, changing nothing', async () => {
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
    expect(changes[4]!.target).toBe('nightly-summarizer@demo-project.iam.gserviceaccount.com');
    expect(changes[5]!.target).toBe('file://.keyless/routes/demo-project/nightly-summarizer.json');
    expect(steps.find((s) => s.stage === 'probe')?.detail).toMatch(/gemini-2\.5-flash/);
    expect(steps.find((s) => s.stage === 'identity')).toMatchObject({ mutation: 'note', detail: expect.stringMatching(/^runtime external/) });

    const table = renderPlan(steps);
    expect(table).toMatch(/^#\s+STAGE\s+MUTATION/);
    expect(table).toMatch(/9 mutation\(s\) to make/);

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

  it('given a spec naming a missing key, fails with an error naming apiKey', async () => {
    const spec = await loadSpec(specPath);
    const missing = { ...spec, apiKey: 'projects/demo-project/locations/global/keys/no-such-key' };
    const err = await planMigration(cloud.clients, missing).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^apiKey projects\/demo-project\/locations\/global\/keys\/no-such-key not found/);
  });
});
