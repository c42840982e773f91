import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CI_DEPLOYER, ORCHESTRATOR, PROJECT, PROJECT_NUMBER, startCoreHarness, type CoreHarness } from './core-harness';

const run = promisify(execFile);
let h: CoreHarness;
let host: string;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  host = h.emu.metadataHosts[ORCHESTRATOR]!;
});
afterAll(() => h.stop());

const md = (path: string, headers: Record<string, string> = { 'Metadata-Flavor': 'Google' }, at = host) => fetch(`http://${at}/computeMetadata/v1/${path}`, { headers });

/** Plain Application Default Credentials in a fresh process, configured only by environment. */
async function adcInChild(env: Record<string, string>): Promise<{ kind: string; token: string; email: string }> {
  const script = `
    import { GoogleAuth } from 'google-auth-library';
    const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    const client = await auth.getClient();
    const { token } = await client.getAccessToken();
    const creds = await auth.getCredentials();
    console.log(JSON.stringify({ kind: client.constructor.name, token, email: creds.client_email }));`;
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), env: childEnv, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('GCE metadata server per attached account', () => {
  it('starts a metadata server for each attachable fixture account', () => {
    // The orchestrator, and the account the feedback-tagger job's runtime is attached to.
    expect(Object.keys(h.emu.metadataHosts)).toEqual([ORCHESTRATOR, `feedback-tagger@${ORCHESTRATOR.split('@')[1]}`]);
    expect(host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('answers the paths ADC reads, with the Metadata-Flavor header', async () => {
    const project = await md('project/project-id');
    expect(project.headers.get('metadata-flavor')).toBe('Google');
    expect(await project.text()).toBe(PROJECT);
    expect(await (await md('project/numeric-project-id')).text()).toBe(PROJECT_NUMBER);
    expect(await (await md('instance/service-accounts/default/email')).text()).toBe(ORCHESTRATOR);
    const recursive = await (await md('instance/service-accounts/default/?recursive=true')).json();
    expect(recursive).toMatchObject({ email: ORCHESTRATOR, aliases: ['default'] });
    const token = (await (await md('instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/cloud-platform')).json()) as { access_token: string };
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(h.emu.core.resolveBearer(`Bearer ${token.access_token}`)).toMatchObject({ kind: 'serviceAccount', email: ORCHESTRATOR });
    expect((await md('instance')).status).toBe(200);
    expect((await md('instance/no-such-thing')).status).toBe(404);
  });

  it('refuses requests without Metadata-Flavor: Google', async () => {
    const res = await md('instance/service-accounts/default/token', {});
    expect(res.status).toBe(403);
    expect(res.headers.get('metadata-flavor')).toBe('Google');
  });

  it('makes plain ADC in another process act as the attached account', async () => {
    const result = await adcInChild({ GCE_METADATA_HOST: host, GOOGLE_CLOUD_PROJECT: PROJECT });
    expect(result.kind).toBe('Compute');
    expect(result.email).toBe(ORCHESTRATOR);
    expect(h.emu.core.resolveBearer(`Bearer ${result.token}`)).toMatchObject({ email: ORCHESTRATOR });
  });

  it('attaches another account on demand through the admin endpoint', async () => {
    const { status, body } = await h.admin('POST', `/admin/v1/serviceAccounts/${CI_DEPLOYER}:attach`);
    expect(status).toBe(200);
    expect(body.metadataHost).not.toBe(host);
    expect(await (await md('instance/service-accounts/default/email', undefined, body.metadataHost)).text()).toBe(CI_DEPLOYER);
    const again = await h.admin('POST', `/admin/v1/serviceAccounts/${CI_DEPLOYER}:attach`);
    expect(again.body.metadataHost).toBe(body.metadataHost);
    expect(h.emu.metadataHosts[CI_DEPLOYER]).toBe(body.metadataHost);
  });
});
