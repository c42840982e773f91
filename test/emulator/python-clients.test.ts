// Python's official Google clients (google-auth, google-cloud-api-keys, google-genai; pinned in
// scripts/python-clients.sh) run unchanged against the emulator, pointed at it only through their
// own endpoint options and a key file's token_uri.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness, key, PROJECT, PROJECT_NUMBER, sa, startHarness } from './generative-harness';
import { testKeyString } from '../support/keys';

const run = promisify(execFile);
const RUNNER = sa('python-runner');
const RUNNER_UNIQUE_ID = '100000000000000003011';
const PROMPT = "Summarize last night's tickets in one line.";

let h: Harness;
let dir: string;
/** What check_clients.py printed. */
let results: Record<string, any>;

beforeAll(async () => {
  // Idempotent: a no-op (about 0.2 s) once setup has installed the pins.
  await run('bash', ['scripts/python-clients.sh', '--quiet'], { cwd: process.cwd(), timeout: 300_000 });
  h = await startHarness({
    serviceAccounts: [account('python-runner', ['roles/aiplatform.user', 'roles/monitoring.viewer', 'roles/viewer'], { uniqueId: RUNNER_UNIQUE_ID })],
    keys: [
      key('nightly-summarizer', testKeyString('PyNightly'), { displayName: 'nightly summarizer' }),
      key('ticket-triage', testKeyString('PyTriage'), { displayName: 'ticket triage' }),
      key('report-digest', testKeyString('PyDigest'), { displayName: 'report digest' }),
    ],
  });
  dir = await mkdtemp(join(tmpdir(), 'keyless-python-'));
  const keyFile = join(dir, 'python-runner.json');
  await writeFile(keyFile, JSON.stringify(await h.emulator.issueKey(RUNNER)), { mode: 0o600 });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    PYTHONPATH: join(process.cwd(), '.tools/python'),
    PYTHONDONTWRITEBYTECODE: '1',
    // Nothing may fall back to a real project, credential or endpoint.
    KEYLESS_EMULATOR: h.baseUrl,
    KEY_FILE: keyFile,
    PROJECT,
    NO_PROXY: '127.0.0.1',
  };
  const { stdout } = await run('python3', ['test/emulator/python/check_clients.py'], { cwd: process.cwd(), env, timeout: 120_000 });
  results = JSON.parse(stdout.trim().split('\n').pop()!);
}, 360_000);

afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("Python's official clients against the emulator", () => {
  it('google-auth exchanges a key file for a token at the token_uri it names', () => {
    expect(results.auth).toEqual({ email: RUNNER, tokenUri: `${h.baseUrl}/token`, tokenPrefix: 'ya29.', expiresInSeconds: expect.any(Number) });
    expect(results.auth.expiresInSeconds).toBeGreaterThan(3000);
    expect(results.auth.expiresInSeconds).toBeLessThanOrEqual(3600);
  });

  it('ApiKeysClient over REST lists every key across pages and gets a Google-shaped 404', () => {
    expect(results.apiKeys.error).toBeUndefined();
    const expected = ['nightly-summarizer', 'report-digest', 'ticket-triage'].map((id) => {
      const record = h.emulator.core.state.keys[`projects/${PROJECT_NUMBER}/locations/global/keys/${id}`]!;
      return { name: record.name, displayName: record.displayName, uid: record.uid };
    });
    expect(results.apiKeys.keys).toEqual(expected);
    expect(results.apiKeys.missingKey).toEqual({ error: 'NotFound', code: 404 });
    expect(JSON.stringify(results)).not.toMatch(/AIzaPy/);
  });

  it('google-genai in Vertex mode generates the same text the REST surface gives for that input', async () => {
    expect(results.genai.error).toBeUndefined();
    const res = await fetch(`${h.baseUrl}/v1beta1/projects/${PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.token(RUNNER)}` },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: PROMPT }] }], generationConfig: { temperature: 0, seed: 7 } }),
    });
    const direct = (await res.json()) as { candidates: { content: { parts: { text: string }[] } }[]; modelVersion: string; usageMetadata: { promptTokenCount: number } };
    expect(results.genai.text).toBe(direct.candidates[0]!.content.parts[0]!.text);
    expect(results.genai.modelVersion).toBe(direct.modelVersion);
    expect(results.genai.promptTokens).toBe(direct.usageMetadata.promptTokenCount);
    expect(results.genai.candidatesTokens).toBeGreaterThan(0);
  });

  it('google-genai raises ClientError 404 NOT_FOUND for a model the location does not serve', () => {
    expect(results.genai.unservedModel).toEqual({ error: 'ClientError', code: 404, status: 'NOT_FOUND' });
  });

  it("Monitoring's REST API, read with google-auth's AuthorizedSession, counts those Vertex calls under the service account", () => {
    expect(results.monitoring).toEqual({ requestCountByResponseCode: { '200': 1, '404': 1 } });
  });
});
