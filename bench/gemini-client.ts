// The route-aware Gemini client's cost (targets: per-call time ≤ 1.02 × a direct @google/genai call
// to the same emulator endpoint; a cached route lookup < 5 µs). The emulator runs in a child
// process so the measured calls do not share its event loop. Prints figures; not a test.
//   npx tsx bench/gemini-client.ts [callsPerPath=3000]

import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';
import { fileRouteStore } from '../route-store';
import { routeLocation, type Route } from '../contracts/route';
import { startEmulator } from '../emulator/index';
import { createGeminiClient, RouteCache, routeSourceFromStore, type GeminiModels } from '../gemini-client';

const PROJECT = 'bench-project';
const ACCOUNT = `pipeline@${PROJECT}.iam.gserviceaccount.com`;
const KEY = `AIza${'B'.repeat(35)}`;
const MODEL = 'gemini-2.5-flash';
const BLOCK = 50;

async function serve(): Promise<void> {
  const emulator = await startEmulator({
    fixture: {
      projects: [{ id: PROJECT, number: '222222222222' }],
      serviceAccounts: [{ project: PROJECT, accountId: 'pipeline', roles: ['roles/aiplatform.user'] }],
      keys: [{ project: PROJECT, keyId: 'bench', keyString: KEY, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } }],
      iamPropagationDelaySeconds: 0,
      models: { gemini: { served: [MODEL] }, vertex: { locations: { global: [MODEL] } } },
    },
  });
  process.send!({ baseUrl: emulator.baseUrl, token: emulator.mintAccessToken(ACCOUNT, 3600) });
  process.on('disconnect', () => void emulator.stop().then(() => process.exit(0)));
}

const REQUEST = { model: MODEL, contents: 'Summarise in one sentence: the printer on floor 3 jams every morning.', config: { temperature: 0, maxOutputTokens: 64 } };

/** Alternates blocks of calls on the two clients so drift (GC, JIT, the emulator's state) hits both alike. */
async function compare(direct: GeminiModels, library: GeminiModels, calls: number): Promise<{ directUs: number; libraryUs: number; ratio: number }> {
  for (let i = 0; i < 200; i++) {
    await direct.generateContent(REQUEST);
    await library.generateContent(REQUEST);
  }
  let directNs = 0;
  let libraryNs = 0;
  const ratios: number[] = [];
  for (let done = 0; done < calls; done += BLOCK) {
    const order = (done / BLOCK) % 2 === 0 ? [direct, library] : [library, direct];
    const block = new Map<GeminiModels, number>();
    for (const models of order) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < BLOCK; i++) await models.generateContent(REQUEST);
      block.set(models, Number(process.hrtime.bigint() - started));
    }
    directNs += block.get(direct)!;
    libraryNs += block.get(library)!;
    ratios.push(block.get(library)! / block.get(direct)!);
  }
  // The median of adjacent block pairs: a GC pause or a scheduler hiccup spoils one pair, not the figure.
  ratios.sort((a, b) => a - b);
  return { directUs: directNs / 1000 / calls, libraryUs: libraryNs / 1000 / calls, ratio: ratios[Math.floor(ratios.length / 2)]! };
}

async function main(): Promise<void> {
  const calls = Math.ceil(Number(process.argv[2] ?? 3000) / BLOCK) * BLOCK;
  const child = fork(new URL(import.meta.url).pathname, ['serve'], { execArgv: process.execArgv });
  const { baseUrl, token } = await new Promise<{ baseUrl: string; token: string }>((resolve) => child.once('message', (m) => resolve(m as { baseUrl: string; token: string })));
  const dir = await mkdtemp(join(tmpdir(), 'keyless-bench-client-'));
  const store = `file://${dir}`;
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  const env = { KEYLESS_EMULATOR: baseUrl };
  const route = (vertexPercent: number, pipeline: string): Route => ({ pipeline, generation: 1, vertexPercent, project: PROJECT, location: 'global', serviceAccount: ACCOUNT, updatedAt: new Date().toISOString() });
  try {
    await fileRouteStore.write(routeLocation(store, 'on-key', PROJECT), route(0, 'on-key'));
    await fileRouteStore.write(routeLocation(store, 'on-vertex', PROJECT), route(100, 'on-vertex'));
    const library = (pipeline: string) => createGeminiClient({ pipeline, project: PROJECT, route: { store }, apiKey: async () => KEY, authClient, env, mode: 'per-call' }).models;

    const keyPath = await compare(new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl } }).models, library('on-key'), calls);
    const vertexDirect = new GoogleGenAI({ vertexai: true, project: PROJECT, location: 'global', httpOptions: { baseUrl }, googleAuthOptions: { authClient } }).models;
    const vertexPath = await compare(vertexDirect, library('on-vertex'), calls);

    const cache = new RouteCache({ pipeline: 'on-key', source: routeSourceFromStore(store, { pipeline: 'on-key', project: PROJECT }, () => { throw new Error('file store only'); }), ttlMs: 3_600_000, readTimeoutMs: 2_000 });
    await cache.current();
    const lookups = 1_000_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) void cache.current();
    const lookupNs = Number(process.hrtime.bigint() - started) / lookups;

    const line = (name: string, r: { directUs: number; libraryUs: number; ratio: number }) =>
      `${name}: direct ${r.directUs.toFixed(0)} µs/call, keyless client ${r.libraryUs.toFixed(0)} µs/call, ratio ${r.ratio.toFixed(3)} (target ≤ 1.02: ${r.ratio <= 1.02 ? 'met' : 'NOT met'})`;
    console.log(`gemini-client benchmark, ${calls} sequential calls per client and path, Node ${process.version}`);
    console.log(line('API key → Gemini API', keyPath));
    console.log(line('ADC → Vertex       ', vertexPath));
    console.log(`cached route lookup: ${(lookupNs / 1000).toFixed(3)} µs (target < 5 µs: ${lookupNs < 5000 ? 'met' : 'NOT met'})`);
  } finally {
    child.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') void serve();
else await main();
