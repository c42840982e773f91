// Benchmark (not a test): seeds 10,000 API keys in the emulator and times listing them all in
// pages of 300 with the official ApiKeysClient over REST. Target: under 1 s.
// Run: npx tsx bench/emulator-keys.ts [keyCount]

import { ApiKeysClient } from '@google-cloud/apikeys';
import { OAuth2Client } from 'google-auth-library';
import { startEmulator } from '../emulator/index';

const PROJECT = 'bench-project';
const ORCHESTRATOR = `keyless@${PROJECT}.iam.gserviceaccount.com`;

async function main(): Promise<void> {
  const keyCount = Number(process.argv[2] ?? 10_000);
  const seedStart = performance.now();
  const emulator = await startEmulator({
    fixture: {
      projects: [{ id: PROJECT, number: '123456789012' }],
      serviceAccounts: [{ project: PROJECT, accountId: 'keyless', roles: ['roles/serviceusage.apiKeysAdmin'] }],
      keys: Array.from({ length: keyCount }, (_, i) => ({ project: PROJECT, keyId: `pipeline-key-${i}`, annotations: { 'keyless.dev/pipeline': `pipeline-${i}` } })),
    },
  });
  const seedMs = performance.now() - seedStart;
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: emulator.mintAccessToken(ORCHESTRATOR) });
  const url = new URL(emulator.baseUrl);
  const client = new ApiKeysClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', authClient: auth });
  const parent = `projects/${PROJECT}/locations/global`;

  // One warm-up page so connection set-up and protobuf type loading are not counted.
  await client.listKeys({ parent, pageSize: 300 }, { autoPaginate: false });

  const runs: number[] = [];
  let listed = 0;
  let pages = 0;
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    let pageToken: string | undefined;
    listed = 0;
    pages = 0;
    do {
      const [keys, , response] = await client.listKeys({ parent, pageSize: 300, ...(pageToken ? { pageToken } : {}) }, { autoPaginate: false });
      listed += keys.length;
      pages += 1;
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    runs.push(performance.now() - start);
  }
  await client.close();
  await emulator.stop();
  if (listed !== keyCount) throw new Error(`listed ${listed} keys, expected ${keyCount}`);
  const sorted = [...runs].sort((a, b) => a - b);
  const result = {
    keys: keyCount,
    pageSize: 300,
    pages,
    seedMs: Math.round(seedMs),
    listAllMs: { best: Math.round(sorted[0]!), median: Math.round(sorted[Math.floor(sorted.length / 2)]!), worst: Math.round(sorted[sorted.length - 1]!) },
    targetMs: 1000,
    pass: sorted[Math.floor(sorted.length / 2)]! < 1000,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
