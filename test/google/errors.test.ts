// The one Google-error mapping (and the activity layer's turn of it into ApplicationFailures), fed with errors the official clients really throw at the emulator
// (gax REST, googleapis-common, @google/genai, LRO failures, refused connections).

import { createServer } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFailure } from '../../activities/failures';
import { ErrorType, KeylessError } from '../../contracts/errors';
import { createGoogleClients } from '../../google/clients';
import { describeGoogleError, redactSecrets, googleError } from '../../google/errors';
import { DEMO_PROJECT } from '../../emulator';
import { startTestCloud, type TestCloud } from '../support/cloud';

const KEYS = `projects/${DEMO_PROJECT}/locations/global/keys`;
const CI_DEPLOYER = `ci-deployer@${DEMO_PROJECT}.iam.gserviceaccount.com`;

let cloud: TestCloud;

beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(async () => {
  await cloud?.stop();
});

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  const err = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  return err;
}

async function failNext(surface: string, status: number): Promise<void> {
  const res = await fetch(`${cloud.emulator.baseUrl}/admin/v1/faults/${surface}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ failNext: { count: 1, status } }),
  });
  expect(res.ok).toBe(true);
}

describe('gax REST errors (ApiKeysClient)', () => {
  it('404: the caller decides the type', async () => {
    const err = await thrown(cloud.clients.apiKeys.getKey({ name: `${KEYS}/missing` }));
    expect(describeGoogleError(err)).toMatchObject({ httpStatus: 404, status: 'NOT_FOUND' });
    const failure = googleError(err, { context: 'inspectKey', notFound: ErrorType.KeyNotFound });
    expect(failure).toMatchObject({ type: ErrorType.KeyNotFound, nonRetryable: true });
    expect(failure.message).toMatch(/^inspectKey: 404 NOT_FOUND: /);
    expect(googleError(err, { context: 'x' }).type).toBe(ErrorType.InvalidRequest);
  });

  it('409 ABORTED (stale etag) is a retryable Transient', async () => {
    const [key] = await cloud.clients.apiKeys.getKey({ name: `${KEYS}/ticket-triage` });
    const err = await thrown(cloud.clients.apiKeys.updateKey({ key: { name: key.name, etag: 'W/"stale"', displayName: 'x' }, updateMask: { paths: ['display_name'] } }));
    expect(describeGoogleError(err)).toMatchObject({ httpStatus: 409, status: 'ABORTED' });
    expect(googleError(err, { context: 'c' })).toMatchObject({ type: ErrorType.Transient, nonRetryable: false });
  });

  it('429 is Quota and 5xx is Transient, both retryable', async () => {
    await failNext('apikeys', 429);
    const quota = await thrown(cloud.clients.apiKeys.getKey({ name: `${KEYS}/ticket-triage` }));
    expect(describeGoogleError(quota)).toMatchObject({ httpStatus: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMIT_EXCEEDED' });
    expect(googleError(quota, { context: 'c' })).toMatchObject({ type: ErrorType.Quota, nonRetryable: false });
    await failNext('apikeys', 500);
    const internal = await thrown(cloud.clients.apiKeys.getKey({ name: `${KEYS}/ticket-triage` }));
    expect(googleError(internal, { context: 'c' })).toMatchObject({ type: ErrorType.Transient, nonRetryable: false });
  });

  it('a failed operation (rpc code 6, duplicate keyId) maps through its rpc code', async () => {
    const [op] = await cloud.clients.apiKeys.createKey({ parent: `projects/${DEMO_PROJECT}/locations/global`, keyId: 'ticket-triage', key: {} });
    const err = await thrown(op.promise());
    expect(describeGoogleError(err)).toMatchObject({ httpStatus: 409, status: 'ALREADY_EXISTS' });
    expect(googleError(err, { context: 'c' })).toMatchObject({ type: ErrorType.InvalidRequest, nonRetryable: true });
  });

  it('400 FAILED_PRECONDITION is a non-retryable InvalidRequest', async () => {
    const err = await thrown(cloud.clients.apiKeys.undeleteKey({ name: `${KEYS}/ticket-triage` }));
    expect(describeGoogleError(err)).toMatchObject({ httpStatus: 400, status: 'FAILED_PRECONDITION' });
    expect(googleError(err, { context: 'c' })).toMatchObject({ type: ErrorType.InvalidRequest, nonRetryable: true });
  });
});

describe('googleapis-common errors (@googleapis/iam)', () => {
  it('403 IAM_PERMISSION_DENIED is PermissionDenied, or what the caller names', async () => {
    const bystander = cloud.clientsAs(CI_DEPLOYER);
    const err = await thrown(bystander.iam.projects.serviceAccounts.create({ name: `projects/${DEMO_PROJECT}`, requestBody: { accountId: 'sneaky-account' } }));
    const info = describeGoogleError(err);
    expect(info).toMatchObject({ httpStatus: 403, status: 'PERMISSION_DENIED', reason: 'IAM_PERMISSION_DENIED' });
    expect(googleError(err, { context: 'c' })).toMatchObject({ type: ErrorType.PermissionDenied, nonRetryable: true });
    expect(googleError(err, { context: 'c', forbidden: ErrorType.MissingRole }).type).toBe(ErrorType.MissingRole);
  });

  it('a refused connection is Transient', async () => {
    const port = await closedPort();
    const nowhere = createGoogleClients({ mode: 'emulator', baseUrl: `http://127.0.0.1:${port}` }, { authClient: cloud.clients.auth as never });
    const err = await thrown(nowhere.iam.projects.serviceAccounts.create({ name: `projects/${DEMO_PROJECT}`, requestBody: { accountId: 'unreachable' } }));
    expect(describeGoogleError(err)).toMatchObject({ httpStatus: 0, status: 'UNAVAILABLE' });
    expect(googleError(err, { context: 'c' })).toMatchObject({ type: ErrorType.Transient, nonRetryable: false });
  });
});

describe('@google/genai errors', () => {
  it('keeps API key rejections distinct from IAM denials', async () => {
    const [{ keyString }] = await cloud.clients.apiKeys.getKeyString({ name: `${KEYS}/nightly-summarizer` });
    const retired = await thrown(cloud.clients.genai({ kind: 'gemini', apiKey: keyString! }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }));
    expect(describeGoogleError(retired)).toMatchObject({ httpStatus: 401, reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED' });
    expect(googleError(retired, { context: 'c' })).toMatchObject({ type: ErrorType.ApiKeyRejected, nonRetryable: true });

    const vertex = await thrown(
      cloud.clients.genai({ kind: 'vertex', project: DEMO_PROJECT, location: 'global' }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }),
    );
    expect(describeGoogleError(vertex)).toMatchObject({ httpStatus: 403, reason: 'IAM_PERMISSION_DENIED', domain: 'aiplatform.googleapis.com' });
    expect(googleError(vertex, { context: 'c', forbidden: ErrorType.MissingRole }).type).toBe(ErrorType.MissingRole);
  });

  it('an invalid key is ApiKeyRejected and its string never reaches the failure', async () => {
    const bogus = `AIza${'Q'.repeat(35)}`;
    const err = await thrown(cloud.clients.genai({ kind: 'gemini', apiKey: bogus }).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }));
    const failure = googleError(err, { context: 'checkKeyWorks' });
    expect(failure.type).toBe(ErrorType.ApiKeyRejected);
    expect(JSON.stringify({ message: failure.message, details: failure.details })).not.toContain(bogus);
  });
});

describe('redaction', () => {
  it('removes standard keys, auth keys, key= parameters and api-key headers', () => {
    const standard = `AIza${'a1_-'.repeat(8)}xyz`;
    const auth = ['AQ', 'Ab8RN6abcdefghijklmnopqrstuvwxyz0123456789_-ABCDEFGHIJK'].join('.');
    const text = `GET https://generativelanguage.googleapis.com/v1beta/models?key=${standard}&alt=json {"x-goog-api-key": "${auth}"} plain ${standard} ${auth} ?key=opaque123`;
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain(standard);
    expect(redacted).not.toContain(auth);
    expect(redacted).not.toContain('opaque123');
    expect(redacted).toContain('alt=json');
  });

  it('redacts a key that Google echoes in a message or ErrorInfo metadata', () => {
    const key = `AIza${'Z'.repeat(35)}`;
    const body = { error: { code: 400, status: 'INVALID_ARGUMENT', message: `Bad request for ?key=${key}`, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { key } }] } };
    // The shape @google/genai throws: an ApiError whose message is the JSON body.
    const err = Object.assign(new Error(JSON.stringify(body)), { name: 'ApiError', status: 400 });
    const failure = googleError(err, { context: `checkKeyWorks ${key}` });
    expect(JSON.stringify({ message: failure.message, details: failure.details })).not.toContain(key);
    expect(describeGoogleError(err).metadata?.key).toBe('<redacted-key>');
  });

  it('passes a KeylessError through unchanged', () => {
    const original = new KeylessError({ type: ErrorType.ForeignChange, message: 'changed' });
    expect(googleError(original, { context: 'c' })).toBe(original);
    expect(original.nonRetryable).toBe(true);
  });
});

describe('the activity layer', () => {
  it('turns a KeylessError into an ApplicationFailure of the same type, retryability, message and details', () => {
    const original = new KeylessError({ type: ErrorType.Quota, message: 'slow down', details: [{ retryAfter: 3 }] });
    const failure = toFailure(original, 'c') as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: ErrorType.Quota, nonRetryable: false, message: 'slow down', details: [{ retryAfter: 3 }] });
  });

  it('classifies any other error as Google errors are, and passes ApplicationFailures through', () => {
    const failure = toFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'readTraffic') as ApplicationFailure;
    expect(failure).toMatchObject({ type: ErrorType.Transient, nonRetryable: false });
    expect(failure.message).toMatch(/^readTraffic: 0 UNAVAILABLE: ECONNRESET/);
    const original = ApplicationFailure.create({ type: ErrorType.ForeignChange, nonRetryable: true, message: 'changed' });
    expect(toFailure(original, 'c')).toBe(original);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
