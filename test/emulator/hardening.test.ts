// The emulator on a laptop: a browser page reaching it through a name it controls (DNS rebinding)
// is refused by the Host check; the client-IP header that IP-restricted keys' tests use is ignored
// unless the emulator was started for tests; the state file (key strings, signing keys) is
// private; and Monitoring's traffic is read only by a principal with monitoring.timeSeries.list.

import { request } from 'node:http';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../emulator/core/http';
import { ORCHESTRATOR, PROJECT, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-hardening-'));
  h = await startCoreHarness('demo', { statePath: join(dir, 'state.json') });
});
afterAll(async () => {
  await h?.stop();
});

/** A GET with an explicit Host header, as a rebinding page's browser would send it. */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Host check', () => {
  it('accepts loopback names and addresses only', () => {
    for (const host of ['127.0.0.1:7280', 'localhost:7280', 'localhost', '[::1]:7280', '127.1.2.3', 'app.localhost:80']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['evil.example:7280', 'evil.example', '127.0.0.1.evil.example', '10.0.0.5:7280', '[2001:db8::1]:7280', 'localhost.evil.example', '127.0.0.256']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses a request addressed to another name, on the API and on the metadata server, naming nothing from it', async () => {
    const token = h.emu.mintAccessToken(ORCHESTRATOR);
    const api = await getWithHost(`${h.baseUrl}/v2/projects/${PROJECT}/locations/global/keys`, 'rebound.evil.example:7280', { authorization: `Bearer ${token}` });
    expect(api.status).toBe(403);
    expect(api.body).not.toContain('rebound');
    const metadata = await getWithHost(`http://${h.emu.metadataHosts[ORCHESTRATOR]}/computeMetadata/v1/instance/service-accounts/default/token`, 'rebound.evil.example', { 'metadata-flavor': 'Google' });
    expect(metadata.status).toBe(403);
    expect(metadata.body).not.toContain('access_token');
    const ok = await getWithHost(`http://${h.emu.metadataHosts[ORCHESTRATOR]}/computeMetadata/v1/instance/service-accounts/default/token`, h.emu.metadataHosts[ORCHESTRATOR]!, { 'metadata-flavor': 'Google' });
    expect(ok.status).toBe(200);
  });
});

describe('the client-IP header', () => {
  it('is ignored unless the emulator was started for tests', async () => {
    // An IP-restricted key the header would otherwise unlock.
    const token = h.emu.mintAccessToken(ORCHESTRATOR);
    const keys = h.apiKeys(h.authAs(ORCHESTRATOR));
    const [created] = await (await keys.createKey({ parent: `projects/${PROJECT}/locations/global`, keyId: 'ip-only', key: { restrictions: { serverKeyRestrictions: { allowedIps: ['203.0.113.7'] } } } }))[0].promise();
    const [{ keyString }] = await keys.getKeyString({ name: (created as { name: string }).name });
    await keys.close();
    const call = (headers: Record<string, string>) =>
      fetch(`${h.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': keyString!, ...headers }, body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }) });
    const spoofed = await call({ 'x-keyless-emulator-client-ip': '203.0.113.7' });
    expect(spoofed.status).toBe(403);
    expect(token).toBeTruthy();
  });
});

describe('the state file', () => {
  it('is written readable by its owner only', async () => {
    const keys = h.apiKeys(h.authAs(ORCHESTRATOR));
    await (await keys.createKey({ parent: `projects/${PROJECT}/locations/global`, keyId: 'persisted', key: {} }))[0].promise();
    await keys.close();
    for (let i = 0; i < 50; i++) {
      const mode = await stat(join(dir, 'state.json')).then((s) => s.mode & 0o777, () => undefined);
      if (mode !== undefined) return expect(mode).toBe(0o600);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no state file written');
  });
});

describe('Monitoring reads', () => {
  it('need monitoring.timeSeries.list: an account without it is refused, the orchestrator (monitoring.viewer) reads', async () => {
    const params = new URLSearchParams({
      filter: 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"',
      'interval.startTime': new Date(Date.now() - 3600_000).toISOString(),
      'interval.endTime': new Date().toISOString(),
    });
    const read = (email: string) => fetch(`${h.baseUrl}/v3/projects/${PROJECT}/timeSeries?${params}`, { headers: { authorization: `Bearer ${h.emu.mintAccessToken(email)}` } });
    const stranger = await read(`feedback-tagger@${PROJECT}.iam.gserviceaccount.com`);
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { error: { details?: { metadata?: { permission?: string } }[] } }).error.details?.[0]?.metadata?.permission).toBe('monitoring.timeSeries.list');
    expect((await read(ORCHESTRATOR)).status).toBe(200);
  });
});

describe('conditional IAM bindings', () => {
  const CONDITION = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/aiplatform.user'])";
  const DEPLOYER = `ci-deployer@${PROJECT}.iam.gserviceaccount.com`;

  it("evaluates modifiedGrantsByRole: a grant limited to roles/aiplatform.user binds that role and nothing else; any other condition is refused, not ignored", async () => {
    const crm = h.crmV3(h.authAs(ORCHESTRATOR));
    const { data: policy } = await crm.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { options: { requestedPolicyVersion: 3 } } });
    const limited = { role: 'roles/resourcemanager.projectIamAdmin', members: [`serviceAccount:${DEPLOYER}`], condition: { title: 'only Vertex users', expression: CONDITION } };
    await crm.projects.setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: { ...policy, version: 3, bindings: [...policy.bindings!, limited] } } });

    const unknown = await crm.projects
      .setIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { policy: { version: 3, bindings: [{ role: 'roles/viewer', members: [`serviceAccount:${DEPLOYER}`], condition: { title: 'weekdays', expression: 'request.time.getDayOfWeek() < 5' } }] } } })
      .then(() => 'accepted', (err: { response?: { status?: number } }) => err.response?.status);
    expect(unknown).toBe(400);

    const asDeployer = h.crmV3(h.authAs(DEPLOYER));
    const read = async () => (await asDeployer.projects.getIamPolicy({ resource: `projects/${PROJECT}`, requestBody: { options: { requestedPolicyVersion: 3 } } })).data;
    const current = await read();
    const vertexUser = await asDeployer.projects.setIamPolicy({
      resource: `projects/${PROJECT}`,
      requestBody: { policy: { ...current, bindings: [...current.bindings!, { role: 'roles/aiplatform.user', members: [`serviceAccount:feedback-tagger@${PROJECT}.iam.gserviceaccount.com`] }] } },
    }).then(() => 200, (err: { response?: { status?: number } }) => err.response?.status);
    expect(vertexUser).toBe(200);
    const again = await read();
    const owner = await asDeployer.projects.setIamPolicy({
      resource: `projects/${PROJECT}`,
      requestBody: { policy: { ...again, bindings: [...again.bindings!, { role: 'roles/owner', members: [`serviceAccount:${DEPLOYER}`] }] } },
    }).then(() => 200, (err: { response?: { status?: number } }) => err.response?.status);
    expect(owner).toBe(403);
  });
});
