// The Google Cloud CLI against the emulator, unchanged: endpoint override plus an access token file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ORCHESTRATOR, PROJECT, PROJECT_NUMBER, startCoreHarness, type CoreHarness } from './core-harness';
import { gcloudAvailable, gcloudJson } from './gcloud-harness';

const hasGcloud = gcloudAvailable();
let h: CoreHarness;
let dir: string;

const gcloud = (...args: string[]) => gcloudJson({ baseUrl: h.baseUrl, dir, project: PROJECT }, ...args);

describe.skipIf(!hasGcloud)('gcloud services api-keys (skipped: gcloud is not installed)', () => {
  beforeAll(async () => {
    h = await startCoreHarness('demo');
    dir = await mkdtemp(join(tmpdir(), 'keyless-gcloud-'));
    await writeFile(join(dir, 'token'), h.emu.mintAccessToken(ORCHESTRATOR));
  });
  afterAll(() => h?.stop());

  it('lists, creates, reads the string of and deletes keys', async () => {
    const listed = await gcloud('services', 'api-keys', 'list');
    expect(listed.map((k: { name: string }) => k.name)).toContain(`projects/${PROJECT_NUMBER}/locations/global/keys/nightly-summarizer`);
    await gcloud('services', 'api-keys', 'create', '--key-id=gcloud-key', '--display-name=from gcloud', '--api-target=service=generativelanguage.googleapis.com');
    const described = await gcloud('services', 'api-keys', 'describe', 'gcloud-key');
    expect(described).toMatchObject({ displayName: 'from gcloud', restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } });
    const { keyString } = await gcloud('services', 'api-keys', 'get-key-string', 'gcloud-key');
    expect(keyString).toMatch(/^AIza/);
    await gcloud('services', 'api-keys', 'delete', 'gcloud-key');
    const withDeleted = await gcloud('services', 'api-keys', 'list', '--show-deleted');
    expect(withDeleted.find((k: { name: string }) => k.name.endsWith('/gcloud-key'))?.deleteTime).toBeTruthy();
  });

  it('creates and lists service accounts and reads the project IAM policy', async () => {
    const created = await gcloud('iam', 'service-accounts', 'create', 'gcloud-made', '--display-name=made by gcloud');
    expect(created.email).toBe(`gcloud-made@${PROJECT}.iam.gserviceaccount.com`);
    const accounts = await gcloud('iam', 'service-accounts', 'list');
    expect(accounts.map((a: { email: string }) => a.email)).toEqual(expect.arrayContaining([ORCHESTRATOR, created.email]));
    const policy = await gcloud('projects', 'get-iam-policy', PROJECT);
    expect(policy.bindings.some((b: { members: string[] }) => b.members.includes(`serviceAccount:${ORCHESTRATOR}`))).toBe(true);
  });
});
