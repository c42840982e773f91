import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeysClient } from '@google-cloud/apikeys';
import { normalizeRawPath } from '../../emulator/core/http';
import { ORCHESTRATOR, PARENT, PROJECT, googleError, rejection, startCoreHarness, type CoreHarness } from './core-harness';

let h: CoreHarness;
let token: string;
let keys: ApiKeysClient;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  token = h.emu.mintAccessToken(ORCHESTRATOR);
  keys = h.apiKeys(h.authAs(ORCHESTRATOR));
});
afterAll(async () => {
  await keys.close();
  await h.stop();
});

const call = (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
  fetch(`${h.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}) });

describe('the emulator core', () => {
  it('answers unknown routes with a Google-style 404', async () => {
    const res = await call('GET', '/v9/nothing/here');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('answers malformed JSON with 400 INVALID_ARGUMENT and keeps serving', async () => {
    const res = await call('POST', `/v2/${PARENT}/keys`, { body: '{"displayName":', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toMatch(/^Invalid JSON payload received/);
    const [list] = await keys.listKeys({ parent: PARENT });
    expect(list.length).toBeGreaterThan(0);
  });

  it('answers wrongly shaped bodies with 400, not a crash', async () => {
    const res = await call('POST', `/v2/${PARENT}/keys?keyId=shape-test`, { body: '{"restrictions":{"apiTargets":"all"}}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain('restrictions.apiTargets');
    const policy = await call('POST', `/v3/projects/${PROJECT}:setIamPolicy`, { body: '{"policy":{"bindings":[{"role":"nope","members":["x"]}]}}', headers: { 'content-type': 'application/json' } });
    expect(policy.status).toBe(400);
  });

  it('refuses oversized bodies with 400', async () => {
    const res = await call('POST', `/v2/${PARENT}/keys`, { body: 'x'.repeat(11 * 1024 * 1024), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain('Request payload size exceeds the limit');
  });

  it('tolerates %252F double encoding and the $alt=json;enum-encoding=int parameter', async () => {
    expect(normalizeRawPath('/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252Fp/denypolicies')).toBe(
      '/v2/policies/cloudresourcemanager.googleapis.com%2Fprojects%2Fp/denypolicies',
    );
    const res = await call('GET', `/v1/projects/-/serviceAccounts/keyless%2540${PROJECT}.iam.gserviceaccount.com?$alt=json;enum-encoding=int`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).email).toBe(ORCHESTRATOR);
  });

  it('records every mutating request with its principal in the audit log', async () => {
    const [op] = await keys.createKey({ parent: PARENT, keyId: 'audited-key', key: {} });
    await op.promise();
    await keys.getKey({ name: `${PARENT}/keys/audited-key` });
    const { body } = await h.admin('GET', '/admin/v1/audit?surface=apikeys');
    const entries = body.entries as Array<{ method: string; path: string; principal: string; status: number }>;
    const created = entries.filter((e) => e.path === `/v2/${PARENT}/keys` && e.status === 200);
    expect(created).toEqual([expect.objectContaining({ method: 'POST', principal: `serviceAccount:${ORCHESTRATOR}`, status: 200 })]);
    expect(entries.some((e) => e.method === 'GET')).toBe(false);
  });

  it('fails the next N calls of a surface with Google-shaped errors, then recovers', async () => {
    expect((await h.admin('PUT', '/admin/v1/faults/apikeys', { failNext: { count: 2, status: 503 } })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const err = await rejection(keys.getKey({ name: `${PARENT}/keys/ticket-triage` }));
      expect(err.code).toBe(503);
      expect(googleError(err).status).toBe('UNAVAILABLE');
    }
    const [key] = await keys.getKey({ name: `${PARENT}/keys/ticket-triage` });
    expect(key.name).toContain('ticket-triage');
  });

  it('injects error rates and latency per surface', async () => {
    await h.admin('PUT', '/admin/v1/faults/iam', { errorRates: { '429': 1 } });
    const res = await call('GET', `/v1/projects/${PROJECT}/serviceAccounts`);
    expect(res.status).toBe(429);
    const body = (await res.json()) as any;
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.details[0].reason).toBe('RATE_LIMIT_EXCEEDED');
    const apikeysStill = await call('GET', `/v2/${PARENT}/keys`);
    expect(apikeysStill.status).toBe(200);
    await h.admin('PUT', '/admin/v1/faults/iam', { latencyMs: 150 });
    const started = Date.now();
    expect((await call('GET', `/v1/projects/${PROJECT}/serviceAccounts`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const cleared = await h.admin('DELETE', '/admin/v1/faults');
    expect(cleared.body.faults).toEqual({});
    const bad = await h.admin('PUT', '/admin/v1/faults/iam', { errorRates: { '429': 7 } });
    expect(bad.status).toBe(400);
  });

  it('holds the answer to a change after making it, so a caller can die not knowing it landed', async () => {
    const creates = async () =>
      ((await h.admin('GET', '/admin/v1/audit?surface=apikeys')).body.entries as Array<{ path: string; status: number }>).filter((e) => e.path === `/v2/${PARENT}/keys` && e.status === 200).length;
    const createsBefore = await creates();
    await h.admin('PUT', '/admin/v1/faults/apikeys', { mutationResponseDelayMs: 1_500 });
    const started = Date.now();
    const pending = keys.createKey({ parent: PARENT, keyId: 'answer-delayed', key: {} });
    // The write is audited and the key readable while the caller still waits for its answer.
    let audited = false;
    while (!audited && Date.now() - started < 1_300) {
      audited = (await creates()) === createsBefore + 1;
      if (!audited) await new Promise((r) => setTimeout(r, 50));
    }
    expect(audited).toBe(true);
    const [made] = await keys.getKey({ name: `${PARENT}/keys/answer-delayed` });
    expect(made.name).toContain('answer-delayed');
    expect(Date.now() - started).toBeLessThan(1_400);
    await pending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    // Reads are not held.
    const read = Date.now();
    await keys.getKey({ name: `${PARENT}/keys/ticket-triage` });
    expect(Date.now() - read).toBeLessThan(1_000);
    await h.admin('DELETE', '/admin/v1/faults/apikeys');
  });

  it('takes faults from the fixture', async () => {
    const faulty = await startCoreHarness({
      projects: [{ id: PROJECT, number: '480213697513' }],
      serviceAccounts: [{ project: PROJECT, accountId: 'keyless', roles: ['roles/owner'] }],
      faults: { resourcemanager: { errorRates: { '500': 1 } } },
    });
    const res = await fetch(`${faulty.baseUrl}/v3/projects/${PROJECT}:getIamPolicy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${faulty.emu.mintAccessToken(ORCHESTRATOR)}` },
    });
    expect(res.status).toBe(500);
    expect(((await res.json()) as any).error.status).toBe('INTERNAL');
    await faulty.stop();
  });
});
