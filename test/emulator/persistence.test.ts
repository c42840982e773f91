import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ORCHESTRATOR, PARENT, PROJECT, PROJECT_NUMBER, startCoreHarness } from './core-harness';

describe('state file', () => {
  it('keeps keys, accounts, policies, tokens and the audit log across a restart', async () => {
    const statePath = join(await mkdtemp(join(tmpdir(), 'keyless-state-')), 'emulator.json');
    const first = await startCoreHarness('demo', { statePath });
    const token = first.emu.mintAccessToken(ORCHESTRATOR);
    const metadataHost = first.emu.metadataHosts[ORCHESTRATOR];
    const keys = first.apiKeys(first.authAs(ORCHESTRATOR));
    const [created] = await (await keys.createKey({ parent: PARENT, keyId: 'survives-restart', key: { displayName: 'survivor' } }))[0].promise();
    await keys.close();
    const iamApi = first.iamApi(first.authAs(ORCHESTRATOR));
    const { data: account } = await iamApi.projects.serviceAccounts.create({ name: `projects/${PROJECT}`, requestBody: { accountId: 'report-digest' } });
    const crm = first.crmV3(first.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    const { data: written } = await crm.projects.setIamPolicy({
      resource: `projects/${PROJECT}`,
      requestBody: { policy: { ...policy, bindings: [...policy.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:${account.email}`] }] } },
    });
    await first.stop();
    const persisted = JSON.parse(await readFile(statePath, 'utf8'));
    expect(persisted.version).toBe(1);

    const second = await startCoreHarness('demo', { statePath });
    expect(second.emu.metadataHosts[ORCHESTRATOR]).toBe(metadataHost);
    const again = second.apiKeys(second.authAs(ORCHESTRATOR));
    const [key] = await again.getKey({ name: created.name! });
    expect(key).toMatchObject({ displayName: 'survivor', uid: created.uid, etag: created.etag });
    const [keyString] = await again.getKeyString({ name: created.name! });
    expect(keyString.keyString).toBe(created.keyString);
    await again.close();
    const res = await fetch(`${second.baseUrl}/v1/projects/${PROJECT}/serviceAccounts/${account.email}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).uniqueId).toBe(account.uniqueId);
    const { data: reread } = await second.crmV3(second.authAs(ORCHESTRATOR)).projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: {} });
    expect(reread.etag).toBe(written.etag);
    const audit = await second.admin('GET', '/admin/v1/audit');
    expect(audit.body.entries.some((e: any) => e.path === `/v2/${PARENT}/keys` && e.status === 200)).toBe(true);
    await second.stop();
  });
});

describe('runEmulatorCommand', () => {
  it('prints one ready line with the orchestrator environment and stops cleanly on SIGTERM', async () => {
    const statePath = join(await mkdtemp(join(tmpdir(), 'keyless-cmd-')), 'state.json');
    const script = `import { runEmulatorCommand } from './emulator/index.ts';
      await runEmulatorCommand({ port: 0, fixture: 'demo', state: ${JSON.stringify(statePath)} });
      process.stderr.write('stopped\\n');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${stderr}`)), 30_000);
      createInterface({ input: child.stdout }).once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
    const ready = JSON.parse(line);
    expect(ready.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.orchestrator.email).toBe(ORCHESTRATOR);
    expect(ready.orchestrator.env).toEqual({ GCE_METADATA_HOST: ready.metadataHosts[ORCHESTRATOR], GOOGLE_CLOUD_PROJECT: PROJECT, KEYLESS_EMULATOR: ready.baseUrl });
    const md = await fetch(`http://${ready.orchestrator.env.GCE_METADATA_HOST}/computeMetadata/v1/project/numeric-project-id`, { headers: { 'Metadata-Flavor': 'Google' } });
    expect(await md.text()).toBe(PROJECT_NUMBER);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopped');
    expect(JSON.parse(await readFile(statePath, 'utf8')).version).toBe(1);
  });
});
