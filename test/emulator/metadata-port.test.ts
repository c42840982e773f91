// Fixed metadata ports: a container deployment sets GCE_METADATA_HOST before the emulator runs,
// so the orchestrator's metadata server must come up on the port it was given, or not at all.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_ORCHESTRATOR, MetadataPortError, startEmulator, type RunningEmulator } from '../../emulator/index';

const started: RunningEmulator[] = [];
afterAll(async () => {
  await Promise.all(started.map((e) => e.stop()));
});

/** A port nothing listens on right now (the OS picks it, then it is released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const metadataEmail = (host: string) =>
  fetch(`http://${host}/computeMetadata/v1/instance/service-accounts/default/email`, { headers: { 'Metadata-Flavor': 'Google' } }).then((r) => r.text());

describe('startEmulator({ metadataPorts })', () => {
  it('serves the account on the port it was given, and envFor points ADC there', async () => {
    const port = await freePort();
    const emulator = await startEmulator({ fixture: 'demo', metadataPorts: { [DEMO_ORCHESTRATOR]: port } });
    started.push(emulator);
    expect(emulator.metadataHosts[DEMO_ORCHESTRATOR]).toBe(`127.0.0.1:${port}`);
    expect((await emulator.envFor(DEMO_ORCHESTRATOR)).GCE_METADATA_HOST).toBe(`127.0.0.1:${port}`);
    expect(await metadataEmail(`127.0.0.1:${port}`)).toBe(DEMO_ORCHESTRATOR);

    // A second emulator asking for the same port fails instead of quietly moving elsewhere.
    const clash = startEmulator({ fixture: 'demo', metadataPorts: { [DEMO_ORCHESTRATOR]: port } });
    await expect(clash).rejects.toBeInstanceOf(MetadataPortError);
    await expect(clash).rejects.toMatchObject({ code: 'EADDRINUSE', port, email: DEMO_ORCHESTRATOR });
    expect(await metadataEmail(`127.0.0.1:${port}`)).toBe(DEMO_ORCHESTRATOR);
  });

  it('attaches an account that is not attachable by default when it is given a port', async () => {
    const port = await freePort();
    const email = 'nightly-batch@demo-project.iam.gserviceaccount.com';
    const emulator = await startEmulator({
      fixture: {
        projects: [{ id: 'demo-project', number: '480213697513' }],
        serviceAccounts: [{ project: 'demo-project', accountId: 'nightly-batch' }],
      },
      metadataPorts: { [email]: port },
    });
    started.push(emulator);
    expect(emulator.metadataHosts).toEqual({ [email]: `127.0.0.1:${port}` });
    expect(await metadataEmail(`127.0.0.1:${port}`)).toBe(email);
  });

  it('refuses unknown accounts, ports out of range and two accounts on one port', async () => {
    await expect(startEmulator({ fixture: 'demo', metadataPorts: { 'ghost@demo-project.iam.gserviceaccount.com': await freePort() } })).rejects.toThrow(/unknown service account/);
    await expect(startEmulator({ fixture: 'demo', metadataPorts: { [DEMO_ORCHESTRATOR]: 70_000 } })).rejects.toThrow(RangeError);
    await expect(startEmulator({ fixture: 'demo', metadataPorts: { [DEMO_ORCHESTRATOR]: 7301, 'b@demo-project.iam.gserviceaccount.com': 7301 } })).rejects.toThrow(/share one metadata port/);
  });
});

describe('runEmulatorCommand({ metadataPort })', () => {
  it('prints the orchestrator environment with the fixed metadata host', async () => {
    const port = await freePort();
    const script = `import { runEmulatorCommand } from './emulator/index.ts';
      await runEmulatorCommand({ port: 0, fixture: 'demo', metadataPort: ${port} });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
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
      expect(ready.orchestrator.email).toBe(DEMO_ORCHESTRATOR);
      expect(ready.orchestrator.env.GCE_METADATA_HOST).toBe(`127.0.0.1:${port}`);
      expect(await metadataEmail(`127.0.0.1:${port}`)).toBe(DEMO_ORCHESTRATOR);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
