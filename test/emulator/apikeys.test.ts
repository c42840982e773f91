import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { ApiKeysClient } from '@google-cloud/apikeys';
import { CI_DEPLOYER, ORCHESTRATOR, PARENT, PROJECT, PROJECT_NUMBER, googleError, reasonOf, rejection, startCoreHarness, staticTokenClient, type CoreHarness } from './core-harness';

let h: CoreHarness;
let keys: ApiKeysClient;

beforeAll(async () => {
  h = await startCoreHarness('demo');
  keys = h.apiKeys(h.authAs(ORCHESTRATOR));
});
afterAll(async () => {
  await keys.close();
  await h.stop();
});

describe('API Keys v2 with the official ApiKeysClient (REST)', () => {
  it('lists the demo keys by project-number resource names, without key strings', async () => {
    const [list] = await keys.listKeys({ parent: PARENT });
    const names = list.map((k) => k.name);
    expect(names).toContain(`projects/${PROJECT_NUMBER}/locations/global/keys/nightly-summarizer`);
    expect(list.every((k) => !k.keyString)).toBe(true);
    const shared = list.find((k) => k.name?.endsWith('/report-digest'));
    expect(shared?.annotations?.['keyless.dev/pipeline']).toBe('report-digest,legacy-exporter');
    expect(list.find((k) => k.name?.endsWith('/ticket-triage'))?.restrictions?.apiTargets?.[0]?.service).toBe('generativelanguage.googleapis.com');
    const [{ keyString }] = await keys.getKeyString({ name: `${PARENT}/keys/ticket-triage` });
    expect(keyString).toMatch(/^AIza[A-Za-z0-9_-]{35}$/);
    const [lookup] = await keys.lookupKey({ keyString: keyString! });
    expect(lookup.name).toBe(`projects/${PROJECT_NUMBER}/locations/global/keys/ticket-triage`);
  });

  it('creates a key with a keyId through an operation that carries the key string', async () => {
    const [op] = await keys.createKey({ parent: PARENT, keyId: 'created-key', key: { displayName: 'created', annotations: { a: 'b' } } });
    expect(op.name).toMatch(new RegExp(`^operations/akmf\\.p7-${PROJECT_NUMBER}-[0-9a-f-]{36}$`));
    const [key] = await op.promise();
    expect(key.name).toBe(`projects/${PROJECT_NUMBER}/locations/global/keys/created-key`);
    expect(key.keyString).toMatch(/^AIza[A-Za-z0-9_-]{35}$/);
    expect(key.etag).toMatch(/^W\/".+"$/);
    expect(key.uid).toMatch(/^[0-9a-f-]{36}$/);
    const [got] = await keys.getKey({ name: key.name! });
    expect(got.keyString).toBeFalsy();
    const [str] = await keys.getKeyString({ name: key.name! });
    expect(str.keyString).toBe(key.keyString);
    const [lookup] = await keys.lookupKey({ keyString: key.keyString! });
    expect(lookup).toMatchObject({ name: key.name, parent: `projects/${PROJECT_NUMBER}/locations/global` });
  });

  it('fails the operation of a duplicate keyId with ALREADY_EXISTS', async () => {
    const [op] = await keys.createKey({ parent: PARENT, keyId: 'nightly-summarizer', key: {} });
    const err = await rejection(op.promise());
    expect(err.code).toBe(6);
    expect(err.message).toContain('A key with this id already exists.');
  });

  it('refuses a malformed keyId with 400 INVALID_ARGUMENT', async () => {
    const err = await rejection(keys.createKey({ parent: PARENT, keyId: 'Bad_Id', key: {} }));
    expect(err.code).toBe(400);
    expect(googleError(err).status).toBe('INVALID_ARGUMENT');
  });

  it('patches with a snake_case or camelCase updateMask and changes the etag each time', async () => {
    const name = `projects/${PROJECT}/locations/global/keys/nightly-summarizer`;
    const [before] = await keys.getKey({ name });
    const [op] = await keys.updateKey({
      key: { name, displayName: 'renamed', restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } },
      updateMask: { paths: ['display_name'] },
    });
    const [after] = await op.promise();
    expect(after.displayName).toBe('renamed');
    expect(after.restrictions?.apiTargets ?? []).toHaveLength(0);
    expect(after.etag).not.toBe(before.etag);
    const [op2] = await keys.updateKey({ key: { name, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } }, updateMask: { paths: ['restrictions'] } });
    const [restricted] = await op2.promise();
    expect(restricted.restrictions?.apiTargets?.[0]?.service).toBe('generativelanguage.googleapis.com');
    expect(restricted.annotations?.['keyless.dev/pipeline']).toBe('nightly-summarizer');
    expect(restricted.etag).not.toBe(after.etag);
  });

  it('refuses an update mask naming an immutable field', async () => {
    const err = await rejection(
      keys.updateKey({ key: { name: `${PARENT}/keys/ticket-triage` }, updateMask: { paths: ['service_account_email'] } }),
    );
    expect(err.code).toBe(400);
    expect(reasonOf(googleError(err))).toBe('APIKEYS_UPDATE_MASK_CONTAINS_IMMUTABLE_FIELDS');
  });

  it('soft-deletes with an etag check, hides deleted keys unless showDeleted, and undeletes', async () => {
    const [created] = await (await keys.createKey({ parent: PARENT, keyId: 'to-delete', key: {} }))[0].promise();
    const stale = await rejection(keys.deleteKey({ name: created.name!, etag: 'W/"stale"' }));
    expect(stale.code).toBe(409);
    expect(googleError(stale).status).toBe('ABORTED');
    const [deleted] = await (await keys.deleteKey({ name: created.name!, etag: created.etag! }))[0].promise();
    expect(deleted.deleteTime).toBeTruthy();
    const [visible] = await keys.listKeys({ parent: PARENT });
    expect(visible.some((k) => k.name === created.name)).toBe(false);
    const [all] = await keys.listKeys({ parent: PARENT, showDeleted: true });
    expect(all.some((k) => k.name === created.name)).toBe(true);
    const [got] = await keys.getKey({ name: created.name! });
    expect(got.deleteTime).toBeTruthy();
    const [restored] = await (await keys.undeleteKey({ name: created.name! }))[0].promise();
    expect(restored.deleteTime).toBeFalsy();
    const again = await rejection(keys.undeleteKey({ name: created.name! }));
    expect(again.code).toBe(400);
  });

  it('answers 404 NOT_FOUND for a missing key', async () => {
    const err = await rejection(keys.getKey({ name: `${PARENT}/keys/no-such-key` }));
    expect(err.code).toBe(404);
    expect(googleError(err).status).toBe('NOT_FOUND');
  });

  it('creates service-account-bound auth keys with the AQ. prefix (raw REST: the 2.2.2 client predates serviceAccountEmail)', async () => {
    const res = await fetch(`${h.baseUrl}/v2/${PARENT}/keys?keyId=auth-key`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.emu.mintAccessToken(ORCHESTRATOR)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ serviceAccountEmail: ORCHESTRATOR }),
    });
    expect(res.status).toBe(200);
    const op = (await res.json()) as { done: boolean; response: { keyString: string; serviceAccountEmail: string } };
    expect(op.done).toBe(true);
    expect(op.response.keyString).toMatch(/^AQ\./);
    expect(op.response.serviceAccountEmail).toBe(ORCHESTRATOR);
  });

  it('denies a caller without the apikeys permission with 403 PERMISSION_DENIED', async () => {
    const viewer = h.apiKeys(h.authAs(CI_DEPLOYER));
    const [list] = await viewer.listKeys({ parent: PARENT });
    expect(list.length).toBeGreaterThan(0);
    const err = await rejection(viewer.getKeyString({ name: `${PARENT}/keys/ticket-triage` }));
    expect(err.code).toBe(403);
    const error = googleError(err);
    expect(error.status).toBe('PERMISSION_DENIED');
    expect(reasonOf(error)).toBe('IAM_PERMISSION_DENIED');
    await viewer.close();
  });

  it('rejects an unknown bearer with 401 UNAUTHENTICATED', async () => {
    const anon = h.apiKeys(staticTokenClient('ya29.not-a-token'));
    const err = await rejection(anon.listKeys({ parent: PARENT }));
    expect(err.code).toBe(401);
    expect(googleError(err).status).toBe('UNAUTHENTICATED');
    await anon.close();
  });

  it('accepts self-signed JWTs from credentials the emulator issued, and refuses foreign keys', async () => {
    const keyFile = await h.emu.issueKey(ORCHESTRATOR);
    const url = new URL(h.baseUrl);
    const signed = new ApiKeysClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', credentials: { client_email: keyFile.client_email, private_key: keyFile.private_key } });
    const [list] = await signed.listKeys({ parent: PARENT });
    expect(list.length).toBeGreaterThan(3);
    await signed.close();
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = new ApiKeysClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', credentials: { client_email: ORCHESTRATOR, private_key: foreign } });
    const err = await rejection(forged.listKeys({ parent: PARENT }));
    expect(err.code).toBe(401);
    await forged.close();
  });

  it('purges soft-deleted keys after 30 days', async () => {
    const [created] = await (await keys.createKey({ parent: PARENT, keyId: 'purged-key', key: {} }))[0].promise();
    await (await keys.deleteKey({ name: created.name! }))[0].promise();
    expect((await h.admin('POST', '/admin/v1/clock', { advanceSeconds: 31 * 86_400 })).status).toBe(200);
    const err = await rejection(keys.getKey({ name: created.name! }));
    expect(err.code).toBe(404);
    await h.admin('POST', '/admin/v1/clock', { advanceSeconds: -31 * 86_400 });
  });
});

describe('API Keys pagination and pending operations', () => {
  let big: CoreHarness;
  let client: ApiKeysClient;
  beforeAll(async () => {
    big = await startCoreHarness({
      projects: [{ id: PROJECT, number: PROJECT_NUMBER }],
      serviceAccounts: [{ project: PROJECT, accountId: 'keyless', roles: ['roles/serviceusage.apiKeysAdmin'] }],
      keys: Array.from({ length: 650 }, (_, i) => ({ project: PROJECT, keyId: `k${i}` })),
      apiKeys: { pendingOperationPolls: 1 },
    });
    client = big.apiKeys(big.authAs(ORCHESTRATOR));
  });
  afterAll(async () => {
    await client.close();
    await big.stop();
  });

  it('caps pages at 300 and walks them with pageToken', async () => {
    const [page1, , raw1] = await client.listKeys({ parent: PARENT, pageSize: 1000 }, { autoPaginate: false });
    expect(page1).toHaveLength(300);
    expect(raw1?.nextPageToken).toBeTruthy();
    const [all] = await client.listKeys({ parent: PARENT, pageSize: 300 }, { autoPaginate: true });
    expect(all).toHaveLength(650);
    expect(new Set(all.map((k) => k.name)).size).toBe(650);
  });

  it('answers a pending operation through operations.get until it is done', async () => {
    const [op] = await client.createKey({ parent: PARENT, keyId: 'pending-key', key: {} });
    expect(op.done).toBeFalsy();
    const [key] = await op.promise();
    expect(key.name).toBe(`projects/${PROJECT_NUMBER}/locations/global/keys/pending-key`);
  });
});
