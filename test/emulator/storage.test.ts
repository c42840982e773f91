// Cloud Storage objects through the official @google-cloud/storage client (JSON API).

import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, PROJECT, sa, startHarness } from './generative-harness';

process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = PROJECT;

const BUCKET = 'demo-project-keyless-routes';
let h: Harness;
const tokens: Record<string, string> = {};

/**
 * @google-cloud/storage 7 bundles google-auth-library 9, whose GoogleAuth cannot read the Headers
 * object a v10 OAuth2Client returns; this minimal client returns plain headers instead.
 */
function staticToken(token: string): never {
  return { getRequestHeaders: async () => ({ Authorization: `Bearer ${token}` }) } as never;
}

function storage(who: 'writer' | 'nobody'): Storage {
  return new Storage({ apiEndpoint: h.baseUrl, projectId: PROJECT, authClient: staticToken(tokens[who]!), useAuthWithCustomEndpoint: true, retryOptions: { maxRetries: 0 } });
}

beforeAll(async () => {
  h = await startHarness({
    buckets: [{ name: BUCKET, project: PROJECT }],
    serviceAccounts: [account('keyless', ['roles/storage.objectAdmin']), account('nobody')],
  });
  tokens.writer = h.token(sa('keyless'));
  tokens.nobody = h.token(sa('nobody'));
});
afterAll(async () => h.close());

describe('objects', () => {
  it('saves with resumable:false, reads metadata and content, with growing generations', async () => {
    const file = storage('writer').bucket(BUCKET).file('routes/nightly-summarizer.json');
    await file.save(JSON.stringify({ generation: 1 }), { resumable: false, contentType: 'application/json', metadata: { metadata: { pipeline: 'nightly' } } });
    const [meta] = await file.getMetadata();
    expect(meta.contentType).toBe('application/json');
    expect(meta.metadata).toEqual({ pipeline: 'nightly' });
    expect(meta.size).toBe(String(JSON.stringify({ generation: 1 }).length));
    const [content] = await file.download();
    expect(JSON.parse(content.toString())).toEqual({ generation: 1 });
    await file.save(JSON.stringify({ generation: 2 }), { resumable: false });
    const [meta2] = await file.getMetadata();
    expect(BigInt(meta2.generation!)).toBeGreaterThan(BigInt(meta.generation!));
    expect(JSON.parse((await file.download())[0].toString())).toEqual({ generation: 2 });
  });

  it('refuses a write whose generation precondition does not hold with 412 conditionNotMet', async () => {
    const file = storage('writer').bucket(BUCKET).file('routes/ticket-triage.json');
    await file.save('{"v":1}', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const [meta] = await file.getMetadata();
    await expect(file.save('{"v":2}', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })).rejects.toMatchObject({ code: 412 });
    await file.save('{"v":2}', { resumable: false, preconditionOpts: { ifGenerationMatch: Number(meta.generation) } });
    await expect(file.save('{"v":3}', { resumable: false, preconditionOpts: { ifGenerationMatch: Number(meta.generation) } })).rejects.toMatchObject({ code: 412 });
    await expect(file.save('{"v":3}', { resumable: false, preconditionOpts: { ifMetagenerationMatch: 9 } })).rejects.toMatchObject({ code: 412 });
    expect((await file.download())[0].toString()).toBe('{"v":2}');
    const raw = await fetch(`${h.baseUrl}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=routes%2Fticket-triage.json&ifGenerationMatch=0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.writer}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(raw.status).toBe(412);
    expect(((await raw.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason).toBe('conditionNotMet');
  });

  it('accepts media uploads, deletes, and answers 404 for missing objects and buckets', async () => {
    const up = await fetch(`${h.baseUrl}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=plain.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.writer}`, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ name: 'plain.txt', bucket: BUCKET, contentType: 'text/plain', size: '5', metageneration: '1' });
    const file = storage('writer').bucket(BUCKET).file('plain.txt');
    expect((await file.exists())[0]).toBe(true);
    await file.delete();
    expect((await file.exists())[0]).toBe(false);
    await expect(file.download()).rejects.toMatchObject({ code: 404 });
    await expect(storage('writer').bucket('no-such-bucket').file('x').getMetadata()).rejects.toMatchObject({ code: 404 });
  });

  it('requires a token with a storage role', async () => {
    const file = storage('nobody').bucket(BUCKET).file('routes/nightly-summarizer.json');
    await expect(file.getMetadata()).rejects.toMatchObject({ code: 403 });
    const anonymous = await fetch(`${h.baseUrl}/storage/v1/b/${BUCKET}/o/routes%2Fnightly-summarizer.json`);
    expect(anonymous.status).toBe(401);
  });
});
