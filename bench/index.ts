// `npm run bench`: the orchestration benchmarks of issue 9, printed as a table and written as JSON
// to bench/results/. Not part of the test suite. Sizes: BENCH_FLEETS=200,1000 BENCH_KEYS=10000.
// The worker runs as a process of its own (bench/worker-process.ts), so its memory is measured
// apart from the emulator and the client (this process). Knobs: BENCH_CONCURRENCY (50),
// BENCH_WORKER_ENV (its KEYLESS_MAX_* settings, e.g. KEYLESS_MAX_CACHED_WORKFLOWS=100),
// BENCH_WORKER_NODE_ARGS (its Node flags; default --max-old-space-size=512), BENCH_PROFILE=<dir>
// (a CPU profile of the worker), BENCH_VERBOSE=1 (its log), BENCH_MEMLOG=1 (its memory every 5 s),
// BENCH_FLEET_TIMEOUT_S (900), BENCH_CLUSTER_FLEET (the fleet on the PostgreSQL cluster with one and
// three workers; 200, 0 to skip; it needs the cluster tier's binaries: `bash scripts/setup.sh --test`).

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { clusterFleet } from './cluster';
import { DEFAULT_WORKER_NODE_ARGS, fleetRun, inventoryPaging, migrationOverhead, startBench } from './orchestration';

Runtime.install({ logger: new DefaultLogger('ERROR') });

interface Row {
  benchmark: string;
  figure: string;
  target: string;
  met: boolean | null;
}

async function main(): Promise<void> {
  const fleets = (process.env.BENCH_FLEETS ?? '200,1000').split(',').map(Number).filter((n) => n > 0);
  const inventoryKeys = Number(process.env.BENCH_KEYS ?? 10_000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
  const routesDir = await mkdtemp(join(tmpdir(), 'keyless-bench-routes-'));
  const keys = [
    ...Array.from({ length: 4 }, (_, i) => [`ov-wf-${i}`, `ov-sc-${i}`]).flat(),
    ...fleets.flatMap((size) => Array.from({ length: size }, (_, i) => `fl${size}-${i}`)),
  ];
  const filler = Math.max(0, inventoryKeys - keys.length - 4);
  const bench = await startBench([...keys, ...Array.from({ length: filler }, (_, i) => `inventory-filler-${i}`)]);
  const rows: Row[] = [];
  const results: Record<string, unknown> = { at: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, workerNodeArgs: process.env.BENCH_WORKER_NODE_ARGS ?? DEFAULT_WORKER_NODE_ARGS };
  try {
    const overhead = await migrationOverhead(bench, routesDir);
    results.migration = overhead;
    rows.push({ benchmark: 'one migration, keyless (dev server)', figure: `${overhead.keylessMs.toFixed(0)} ms`, target: '', met: null });
    rows.push({ benchmark: 'one migration, straight script', figure: `${overhead.scriptMs.toFixed(0)} ms`, target: '', met: null });
    rows.push({ benchmark: 'orchestration overhead (keyless - script)', figure: `${overhead.overheadMs.toFixed(0)} ms (ratio ${overhead.ratio.toFixed(2)})`, target: '≤ 1000 ms', met: overhead.overheadMs <= 1000 });
    rows.push({ benchmark: 'history events per migration (3-step canary)', figure: `${overhead.historyEvents}`, target: '≤ 200', met: overhead.historyEvents <= 200 });

    results.fleets = [];
    for (const size of fleets) {
      const fleet = await fleetRun(bench, routesDir, size, concurrency);
      (results.fleets as unknown[]).push(fleet);
      rows.push({ benchmark: `fleet of ${size} (concurrency ${concurrency}): wall`, figure: `${fleet.wallS.toFixed(1)} s, ${fleet.perSecond.toFixed(1)}/s, ${fleet.completed} completed`, target: size >= 1000 ? '≤ 150 s' : '', met: size >= 1000 ? fleet.wallS <= 150 : null });
      rows.push({ benchmark: `fleet of ${size}: peak RSS, worker process`, figure: `${fleet.peakRssMb} MB`, target: '≤ 600 MB', met: fleet.peakRssMb <= 600 });
      rows.push({ benchmark: `fleet of ${size}: peak RSS, emulator + client process`, figure: `${fleet.benchPeakRssMb} MB`, target: '', met: null });
      rows.push({ benchmark: `fleet of ${size}: history events per child migration`, figure: `${fleet.eventsPerMigration}`, target: '≤ 200', met: fleet.eventsPerMigration <= 200 });
    }

    const inventory = await inventoryPaging(bench);
    results.inventory = inventory;
    rows.push({ benchmark: `inventory of ${inventory.keys} keys, pageSize 300`, figure: `${inventory.pageSize300Ms.toFixed(0)} ms`, target: '≤ 3000 ms', met: inventory.pageSize300Ms <= 3000 });
    rows.push({ benchmark: `inventory of ${inventory.keys} keys, client default page size`, figure: `${inventory.defaultPageMs.toFixed(0)} ms`, target: '', met: null });
  } finally {
    await bench.stop();
  }

  const clusterSize = Number(process.env.BENCH_CLUSTER_FLEET ?? 200);
  if (clusterSize > 0) {
    results.cluster = [];
    for (const workers of [1, 3]) {
      const run = await clusterFleet(clusterSize, workers);
      (results.cluster as unknown[]).push(run);
      rows.push({ benchmark: `fleet of ${clusterSize} on PostgreSQL, ${workers} worker${workers > 1 ? 's' : ''}`, figure: `${run.wallS.toFixed(1)} s, ${run.perSecond.toFixed(1)}/s, ${run.completed} completed`, target: '', met: null });
    }
  }

  const width = Math.max(...rows.map((r) => r.benchmark.length));
  console.log(`\n${'benchmark'.padEnd(width)}  figure${' '.repeat(34)}target      met`);
  for (const r of rows) console.log(`${r.benchmark.padEnd(width)}  ${r.figure.padEnd(40)}${r.target.padEnd(12)}${r.met === null ? '' : r.met ? 'yes' : 'NO'}`);
  const folder = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(folder, { recursive: true });
  const file = join(folder, `orchestration-${results.at as string}.json`.replace(/:/g, '-'));
  await writeFile(file, JSON.stringify({ ...results, rows }, null, 2));
  console.log(`\nwritten: ${file}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
