// The Gemini Developer API surface through the official @google/genai client in API-key mode.

import { ApiError, GoogleGenAI, Type } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, key, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

/** An auth-key-shaped string (`AQ.` …), built at run time so that none is committed. */
const AUTH_KEY = ['AQ', `auth-${'0'.repeat(33)}`].join('.');
const KEY_LABELS = ['unrestricted', 'targets', 'maps', 'wildcard', 'ip', 'referrer', 'android', 'ios', 'deleted'] as const;
/** The fixture's key strings, one per restriction under test. */
const KEYS = Object.fromEntries(KEY_LABELS.map((label) => [label, testKeyString(label)])) as Record<(typeof KEY_LABELS)[number], string>;


process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT = 'demo-project';

const FIRST = new Date('2026-06-19T00:00:00Z');
const SECOND = new Date('2026-09-01T00:00:00Z');

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    retirement: { unrestrictedKeysRejectedFrom: FIRST, standardKeysRejectedFrom: SECOND },
    serviceAccounts: [account('pipeline-auth')],
    keys: [
      key('unrestricted', KEYS.unrestricted),
      key('targets', KEYS.targets, { restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } }),
      key('maps', KEYS.maps, { restrictions: { apiTargets: [{ service: 'maps-backend.googleapis.com' }] } }),
      key('wildcard', KEYS.wildcard, {
        restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com', methods: ['Google.AI.generativelanguage.v1beta.GenerativeService.Generate*'] }] },
      }),
      key('ip', KEYS.ip, { restrictions: { serverKeyRestrictions: { allowedIps: ['10.0.0.0/8', '2001:db8::/32', '203.0.113.7'] } } }),
      key('referrer', KEYS.referrer, { restrictions: { browserKeyRestrictions: { allowedReferrers: ['https://*.example.com/*'] } } }),
      key('android', KEYS.android, {
        restrictions: { androidKeyRestrictions: { allowedApplications: [{ packageName: 'com.example.app', sha1Fingerprint: 'AB:CD:EF' }] } },
      }),
      key('ios', KEYS.ios, { restrictions: { iosKeyRestrictions: { allowedBundleIds: ['com.example.ios'] } } }),
      key('deleted', KEYS.deleted, { deleteTime: '2026-01-01T00:00:00Z' }),
      key('auth', AUTH_KEY, { serviceAccountEmail: sa('pipeline-auth') }),
    ],
  });
  // Before the first retirement date unless a test moves the clock.
  h.clock.offsetMs = new Date('2026-05-01T00:00:00Z').getTime() - Date.now();
});
afterAll(async () => h.close());

function client(apiKey: string, headers?: Record<string, string>): GoogleGenAI {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: h.baseUrl, ...(headers ? { headers } : {}) } });
}

/** The Google error envelope inside an ApiError. */
async function failure(call: Promise<unknown>): Promise<{ status: number; error: { code: number; status: string; message: string; details?: { reason?: string; metadata?: Record<string, string> }[] } }> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    return { status: e.status, error: (JSON.parse(e.message) as { error: never }).error };
  }
  throw new Error('expected the call to fail');
}

const hello = (apiKey: string, headers?: Record<string, string>) =>
  client(apiKey, headers).models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarize yesterday\'s customer tickets', config: { temperature: 0, seed: 7 } });

describe('generateContent', () => {
  it('answers deterministically at temperature 0 with a seed, with usage and modelVersion', async () => {
    const a = await hello(KEYS.unrestricted);
    const b = await hello(KEYS.unrestricted);
    expect(a.text).toBeTruthy();
    expect(a.text).toBe(b.text);
    expect(a.responseId).not.toBe(b.responseId);
    expect(a.candidates?.[0]?.finishReason).toBe('STOP');
    expect(a.modelVersion).toBe('gemini-2.5-flash');
    const u = a.usageMetadata!;
    expect(u.promptTokenCount).toBe(Math.ceil("Summarize yesterday's customer tickets".length / 4));
    expect(u.totalTokenCount).toBe(u.promptTokenCount! + u.candidatesTokenCount!);
  });

  it('changes the text with the system instruction and resolves aliases per endpoint', async () => {
    const ai = client(KEYS.unrestricted);
    const plain = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { temperature: 0 } });
    const withSystem = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: { temperature: 0, systemInstruction: 'be terse' } });
    expect(withSystem.text).not.toBe(plain.text);
    const alias = await ai.models.generateContent({ model: 'gemini-flash-latest', contents: 'x', config: { temperature: 0 } });
    expect(alias.modelVersion).toBe('gemini-2.5-flash-preview-09-2025');
  });

  it('returns valid JSON honouring a response schema', async () => {
    const r = await client(KEYS.unrestricted).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'classify',
      config: {
        temperature: 0,
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.OBJECT,
          properties: { label: { type: Type.STRING, enum: ['bug', 'question'] }, score: { type: Type.INTEGER }, tags: { type: Type.ARRAY, items: { type: Type.STRING } } },
        },
      },
    });
    const parsed = JSON.parse(r.text!) as { label: string; score: number; tags: string[] };
    expect(['bug', 'question']).toContain(parsed.label);
    expect(Number.isInteger(parsed.score)).toBe(true);
    expect(Array.isArray(parsed.tags)).toBe(true);
  });

  it('truncates at maxOutputTokens with finishReason MAX_TOKENS', async () => {
    const r = await client(KEYS.unrestricted).models.generateContent({ model: 'gemini-2.5-flash', contents: 'long', config: { temperature: 0, maxOutputTokens: 3 } });
    expect(r.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
    expect(r.text!.length).toBeLessThanOrEqual(12);
    expect(r.usageMetadata?.candidatesTokenCount).toBe(3);
  });

  it('streams over SSE and counts tokens', async () => {
    const ai = client(KEYS.unrestricted);
    let streamed = '';
    let chunks = 0;
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Summarize yesterday\'s customer tickets', config: { temperature: 0, seed: 7 } })) {
      streamed += chunk.text ?? '';
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(streamed).toBe((await hello(KEYS.unrestricted)).text);
    const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'abcdefgh' });
    expect(counted.totalTokens).toBe(2);
  });

  it('accepts the key as ?key= and answers 404 for an unknown model', async () => {
    const res = await fetch(`${h.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent?key=${KEYS.unrestricted}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(200);
    const f = await failure(client(KEYS.unrestricted).models.generateContent({ model: 'gemini-0-nope', contents: 'x' }));
    expect(f.status).toBe(404);
    expect(f.error.message).toBe(
      'models/gemini-0-nope is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.',
    );
  });

  it('lists models in pages and gets one', async () => {
    const ai = client(KEYS.unrestricted);
    const pager = await ai.models.list({ config: { pageSize: 2 } });
    expect(pager.page.length).toBe(2);
    const names: string[] = [];
    for await (const m of pager) names.push(m.name!);
    expect(names).toEqual(['models/gemini-2.5-flash', 'models/gemini-2.5-flash-lite', 'models/gemini-flash-latest']);
    const model = await ai.models.get({ model: 'gemini-2.5-flash' });
    expect(model.displayName).toBe('Gemini 2.5 Flash');
    expect(model.inputTokenLimit).toBe(1_048_576);
  });
});

describe('key checks', () => {
  it('refuses a call without a key as unregistered', async () => {
    const res = await fetch(`${h.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { status: string; message: string; details?: unknown } };
    expect(body.error.status).toBe('PERMISSION_DENIED');
    expect(body.error.message).toMatch(/^Method doesn't allow unregistered callers/);
    expect(body.error.details).toBeUndefined();
  });

  it('answers 400 API_KEY_INVALID for unknown and deleted keys', async () => {
    for (const key of ['AIzaNope', KEYS.deleted]) {
      const f = await failure(hello(key));
      expect(f.status).toBe(400);
      expect(f.error.status).toBe('INVALID_ARGUMENT');
      expect(f.error.message).toBe('API key not valid. Please pass a valid API key.');
      expect(f.error.details?.[0]?.reason).toBe('API_KEY_INVALID');
    }
  });

  it('blocks keys whose API targets exclude the Generative Language API, honouring method wildcards', async () => {
    const f = await failure(hello(KEYS.maps));
    expect(f.status).toBe(403);
    expect(f.error.details?.[0]?.reason).toBe('API_KEY_SERVICE_BLOCKED');
    expect(f.error.details?.[0]?.metadata?.consumer).toBe('projects/480213697513');
    expect(f.error.message).toBe(
      'Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.',
    );
    expect((await hello(KEYS.wildcard)).text).toBeTruthy();
    const counted = await failure(client(KEYS.wildcard).models.countTokens({ model: 'gemini-2.5-flash', contents: 'x' }));
    expect(counted.error.details?.[0]?.reason).toBe('API_KEY_SERVICE_BLOCKED');
  });

  it('checks the caller address against the IP allowlist (IPv4, IPv6, CIDR)', async () => {
    for (const ip of ['10.1.2.3', '203.0.113.7', '2001:db8::42']) {
      expect((await hello(KEYS.ip, { 'x-keyless-emulator-client-ip': ip })).text).toBeTruthy();
    }
    for (const ip of ['192.168.1.1', '203.0.113.8', '2001:db9::1']) {
      const f = await failure(hello(KEYS.ip, { 'x-keyless-emulator-client-ip': ip }));
      expect(f.status).toBe(403);
      expect(f.error.details?.[0]?.reason).toBe('API_KEY_IP_ADDRESS_BLOCKED');
    }
  });

  it('blocks a headless caller on referrer, Android and iOS keys', async () => {
    const ref = await failure(hello(KEYS.referrer));
    expect(ref.status).toBe(403);
    expect(ref.error.message).toBe('Requests from referer <empty> are blocked.');
    expect(ref.error.details?.[0]?.reason).toBe('API_KEY_HTTP_REFERRER_BLOCKED');
    expect((await hello(KEYS.referrer, { referer: 'https://app.example.com/page' })).text).toBeTruthy();
    expect((await failure(hello(KEYS.android))).error.details?.[0]?.reason).toBe('API_KEY_ANDROID_APP_BLOCKED');
    expect((await hello(KEYS.android, { 'x-android-package': 'com.example.app', 'x-android-cert': 'abcdef' })).text).toBeTruthy();
    expect((await failure(hello(KEYS.ios))).error.details?.[0]?.reason).toBe('API_KEY_IOS_APP_BLOCKED');
    expect((await hello(KEYS.ios, { 'x-ios-bundle-identifier': 'com.example.ios' })).text).toBeTruthy();
  });
});

describe('retirement of standard keys', () => {
  const at = (iso: string) => {
    h.clock.offsetMs = new Date(iso).getTime() - Date.now();
  };
  afterAll(() => at('2026-05-01T00:00:00Z'));

  it('rejects unrestricted standard keys from the first date, restricted ones still work', async () => {
    at('2026-07-01T00:00:00Z');
    const f = await failure(hello(KEYS.unrestricted));
    expect(f.status).toBe(401);
    expect(f.error.status).toBe('UNAUTHENTICATED');
    expect(f.error.details?.[0]?.reason).toBe('ACCESS_TOKEN_TYPE_UNSUPPORTED');
    expect((await hello(KEYS.targets)).text).toBeTruthy();
    expect((await hello(AUTH_KEY)).text).toBeTruthy();
  });

  it('rejects every standard key from the second date, auth keys keep working', async () => {
    at('2026-09-02T00:00:00Z');
    expect((await failure(hello(KEYS.targets))).status).toBe(401);
    expect((await failure(hello(KEYS.ip, { 'x-keyless-emulator-client-ip': '10.0.0.1' }))).status).toBe(401);
    expect((await hello(AUTH_KEY)).text).toBeTruthy();
  });

  it('uses the configured rejection shape', async () => {
    at('2026-09-02T00:00:00Z');
    const rejection = h.emulator.core.fixture.rejection;
    const saved = { ...rejection };
    Object.assign(rejection, { httpStatus: 403, status: 'PERMISSION_DENIED', reason: 'API_KEY_SERVICE_BLOCKED', message: 'Standard keys are retired.' });
    try {
      const f = await failure(hello(KEYS.targets));
      expect(f.status).toBe(403);
      expect(f.error.status).toBe('PERMISSION_DENIED');
      expect(f.error.message).toBe('Standard keys are retired.');
    } finally {
      Object.assign(rejection, saved);
    }
  });
});
