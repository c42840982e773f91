// One sample job as its own process: `node --import tsx examples/pipelines/main.ts <name>
// [--routes file://.keyless/routes] [--interval-ms 1000] [--max-runs 1000] [--vertex-auth adc|impersonate]
// [--api-key-env GEMINI_API_KEY]`.
// Prints one JSON line per run and one with the totals; SIGTERM ends it after the current run.

import { parseArgs } from 'node:util';
import { samplePipeline } from './catalog';
import { runSamplePipeline } from './run';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    routes: { type: 'string', default: 'file://.keyless/routes' },
    'interval-ms': { type: 'string', default: '1000' },
    'max-runs': { type: 'string', default: '1000' },
    'vertex-auth': { type: 'string', default: 'adc' },
    'route-ttl-ms': { type: 'string' },
    'api-key-env': { type: 'string' },
  },
});

const name = positionals[0];
if (!name) {
  process.stderr.write('usage: main.ts <pipeline> [--routes store] [--interval-ms n] [--max-runs n] [--vertex-auth adc|impersonate]\n');
  process.exit(2);
}
const vertexAuth = values['vertex-auth'] === 'impersonate' ? 'impersonate' : 'adc';
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
process.once('SIGINT', () => controller.abort());

const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const report = await runSamplePipeline(samplePipeline(name), {
  env: process.env,
  routesStore: values.routes!,
  stopSignal: controller.signal,
  intervalMs: Number(values['interval-ms']),
  maxRuns: Number(values['max-runs']),
  vertexAuth,
  ...(values['route-ttl-ms'] ? { routeTtlMs: Number(values['route-ttl-ms']) } : {}),
  ...(values['api-key-env'] ? { apiKeyVariable: values['api-key-env'] } : {}),
  onRun: (run) => write({ run }),
});
write({ report });
