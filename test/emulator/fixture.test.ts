import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ORCHESTRATOR, FixtureError, demoFixture, loadFixtureFile, parseFixture, parseFixtureText } from '../../emulator/index';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FixtureError);
    return (err as FixtureError).issues;
  }
  throw new Error('expected a FixtureError');
}

const project = { id: 'demo-project', number: '480213697513' };

describe('fixture validation', () => {
  it('names the path of a wrongly typed value', () => {
    const issues = issuesOf(() =>
      parseFixture({
        projects: [project],
        keys: [
          { project: 'demo-project', keyId: 'a-key' },
          { project: 'demo-project', keyId: 'b-key' },
          { project: 'demo-project', keyId: 'c-key', restrictions: { apiTargets: [{ service: 42 }] } },
        ],
      }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^keys\[2\]\.restrictions\.apiTargets\[0\]\.service: expected string/);
  });

  it('names dangling references, duplicates and bad ids', () => {
    const issues = issuesOf(() =>
      parseFixture({
        projects: [project],
        serviceAccounts: [{ project: 'other-project', accountId: 'x' }],
        keys: [
          { project: 'demo-project', keyId: 'dup' },
          { project: 'demo-project', keyId: 'dup' },
          { project: 'demo-project', keyId: 'Bad_Id' },
        ],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^serviceAccounts\[0\]\.accountId: /),
        expect.stringMatching(/^serviceAccounts\[0\]\.project: unknown project other-project/),
        expect.stringMatching(/^keys\[1\]\.keyId: duplicate key id dup/),
        expect.stringMatching(/^keys\[2\]\.keyId: /),
      ]),
    );
  });

  it('refuses two application restrictions on one key and bad retirement dates', () => {
    const issues = issuesOf(() =>
      parseFixture({
        projects: [project],
        keys: [{ project: 'demo-project', keyId: 'k', restrictions: { serverKeyRestrictions: { allowedIps: [] }, iosKeyRestrictions: { allowedBundleIds: [] } } }],
        retirement: { standardKeysRejectedFrom: 'next autumn' },
      }),
    );
    expect(issues.some((i) => i.startsWith('keys[0].restrictions: at most one application restriction'))).toBe(true);
    expect(issues.some((i) => i.startsWith('retirement.standardKeysRejectedFrom: expected an ISO date'))).toBe(true);
  });

  it('reads YAML files and reports unreadable or malformed ones by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyless-fixture-'));
    const good = join(dir, 'estate.yaml');
    await writeFile(good, 'projects:\n  - id: demo-project\n    number: 480213697513\nretirement:\n  unrestrictedKeysRejectedFrom: 2026-06-19\n');
    const fixture = await loadFixtureFile(good);
    expect(fixture.projects[0]!.number).toBe('480213697513');
    expect(fixture.retirement.unrestrictedKeysRejectedFrom?.toISOString()).toBe('2026-06-19T00:00:00.000Z');
    expect(fixture.rejection).toMatchObject({ httpStatus: 401, status: 'UNAUTHENTICATED', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED' });
    await expect(loadFixtureFile(join(dir, 'missing.yaml'))).rejects.toBeInstanceOf(FixtureError);
    expect(issuesOf(() => parseFixtureText('projects: [unclosed', 'x.yaml'))[0]).toMatch(/^\(root\): not valid YAML/);
    expect(issuesOf(() => parseFixtureText('{}', 'x.json'))[0]).toMatch(/^projects: /);
  });

  it('builds the demo estate with the first retirement past and the second ahead by default', () => {
    const now = new Date('2026-11-28T00:00:00Z');
    const demo = demoFixture({ now });
    expect(demo.retirement.unrestrictedKeysRejectedFrom!.toISOString()).toBe('2026-06-19T00:00:00.000Z');
    expect(demo.retirement.standardKeysRejectedFrom!.getTime()).toBeGreaterThan(now.getTime());
    const down = demoFixture({ now, bothRetirementsPast: true });
    expect(down.retirement.standardKeysRejectedFrom!.getTime()).toBeLessThan(now.getTime());
    const orchestrator = demo.serviceAccounts.find((a) => `${a.accountId}@${a.project}.iam.gserviceaccount.com` === DEMO_ORCHESTRATOR)!;
    expect(orchestrator.attachable).toBe(true);
    expect(orchestrator.roles).toContain('roles/iam.serviceAccountTokenCreator');
    const pipelines = demo.keys.map((k) => k.annotations['keyless.dev/pipeline']).filter(Boolean);
    expect(pipelines).toEqual(['nightly-summarizer', 'ticket-triage', 'report-digest,legacy-exporter', 'feedback-tagger']);
    expect(demo.models.vertex.locations['europe-west4']).not.toContain('gemini-2.5-flash-lite');
  });
});
