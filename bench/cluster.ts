// The fleet benchmark on the production topology (not a test): the cluster tier's Temporal server on
// PostgreSQL (test/support/cluster.ts, the same processes the suite starts) with one and with three
// `keyless worker` processes on the one task queue. On two cores the server, PostgreSQL, the
// emulator and the workers all compete for the same CPU: the figures say what that costs.

import { FleetSpecSchema, fleetWorkflowId } from '../contracts/fleet';
import { startFleet } from '../client/fleets';
import { clusterSpec, startKeylessCluster } from '../test/support/cluster';

export interface ClusterFleetRun {
  workers: number;
  size: number;
  wallS: number;
  perSecond: number;
  completed: number;
}

/** One fleet of `size` on a fresh cluster with `workers` workers; the cluster is stopped after. */
export async function clusterFleet(size: number, workers: number): Promise<ClusterFleetRun> {
  const pipelines = Array.from({ length: size }, (_, i) => `cb${workers}-${String(i).padStart(4, '0')}`);
  const cluster = await startKeylessCluster({ label: `bench-${workers}`, pipelines, workers });
  try {
    const routes = `${cluster.dir}/routes`;
    const fleet = FleetSpecSchema.parse({
      fleet: `bench-${workers}w`,
      waveSize: size,
      concurrency: 50,
      pipelines: pipelines.map((p) => clusterSpec(p, routes, { canary: { steps: [{ percent: 50, bake: '0s' }, { percent: 100, bake: '0s' }] }, soak: { duration: '0s' } })),
    });
    const began = performance.now();
    await startFleet(cluster.client, cluster.taskQueue, fleet);
    const result = (await cluster.client.workflow.getHandle(fleetWorkflowId(fleet.fleet)).result()) as { counts: Record<string, number> };
    const wallS = (performance.now() - began) / 1000;
    return { workers, size, wallS, perSecond: size / wallS, completed: result.counts.completed ?? 0 };
  } finally {
    await cluster.stop();
  }
}
