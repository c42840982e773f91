// Given a laptop where someone ran `gcloud auth application-default login` (an authorized_user ADC
// file in ~/.config/gcloud) and also set GOOGLE_APPLICATION_CREDENTIALS to another credential file,
// when `keyless demo --yes` runs on the embedded default, then it completes and nothing uses either
// credential: both name a token endpoint on a local trap server that counts every request, and the
// machine has no other network, so any use would fail loudly or be counted.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from '../support/processes';
import { recordScenario } from '../support/scenarios';

const REPO = resolve(new URL('../..', import.meta.url).pathname);
const TSX = join(REPO, 'node_modules/tsx/dist/loader.mjs');
const MAIN = join(REPO, 'client/main.ts');

let dir: string;
let trap: Server;
let trapUrl: string;
const trapped: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyless-demo-adc-'));
  trap = createServer((req, res) => {
    trapped.push(`${req.method} ${req.url}`);
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/token`;
});

afterAll(async () => {
  await new Promise<void>((r) => trap?.close(() => r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function userCredential(name: string): string {
  return JSON.stringify({ type: 'authorized_user', client_id: `${name}.apps.googleusercontent.com`, client_secret: `${name}-secret`, refresh_token: `1//${name}-refresh-token`, token_uri: trapUrl, quota_project_id: 'someones-real-project' });
}

describe('the embedded default on a laptop with real credentials', () => {
  it('given a gcloud ADC file and GOOGLE_APPLICATION_CREDENTIALS, keyless demo --yes completes and never uses either', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.config', 'gcloud'), { recursive: true });
    await writeFile(join(home, '.config', 'gcloud', 'application_default_credentials.json'), userCredential('gcloud-login'));
    const explicit = join(dir, 'explicit-credentials.json');
    await writeFile(explicit, userCredential('explicit-file'));
    const work = join(dir, 'work');
    await mkdir(work);
    const [port, uiPort, emulatorPort] = [await freePort(), await freePort(), await freePort()];
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      GOOGLE_APPLICATION_CREDENTIALS: explicit,
      // The checkout's pinned binaries and Python clients, as `npm test` installed them.
      KEYLESS_CACHE_DIR: join(dir, 'cache'),
      ...(process.env.KEYLESS_TEMPORAL_CLI ? { KEYLESS_TEMPORAL_CLI: process.env.KEYLESS_TEMPORAL_CLI } : {}),
    };
    // Ctrl-C after 14 minutes, as the package test bounds its demo.
    const result = await runToEnd(process.execPath, ['--import', TSX, MAIN, 'demo', '--yes', '--json', '--port', String(port), '--ui-port', String(uiPort), '--emulator-port', String(emulatorPort)], { cwd: work, env, interruptAfterMs: 840_000 });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const outcomes = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as { pipeline: string; outcome: string }[];
    expect(Object.fromEntries(outcomes.map((o) => [o.pipeline, o.outcome]))).toMatchObject({ 'nightly-summarizer': 'completed', 'ticket-triage': 'rolled-back', 'report-digest': 'held' });
    expect(trapped).toEqual([]);
    expect(result.stderr + result.stdout).not.toContain('oauth2.googleapis.com');
    expect(result.stderr + result.stdout).not.toContain('refresh-token');
    recordScenario({ scenario: 'demo with a gcloud ADC file and GOOGLE_APPLICATION_CREDENTIALS set', runs: 1, outcome: `completed (${outcomes.map((o) => `${o.pipeline} ${o.outcome}`).join(', ')}); neither credential's token endpoint was called` });
  }, 900_000);
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
