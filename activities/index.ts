// The activities of a migration, built from the clients they use. The worker passes clients
// pointed at Google or at the emulator (one configuration decides, activities/google-clients.ts);
// workflows see only the type of what this factory returns.

import { RouteSchema, routeLocation, type Route } from '../contracts/route';
import { createDualRunActivities } from './dual-run';
import type { GoogleClients } from './google-clients';
import { createKeyActivities } from './keys';
import { createProbeActivities } from './probe';
import { createProvisionActivities } from './provision';
import { gcsRouteStore } from './route-store-gcs';
import { fileRouteStore, publishRouteTo, storeFor, type PublishOutcome, type RouteStore } from './route-store';
import { createTrafficActivities } from './traffic';

/** What the activities need from the outside world. */
export interface ActivityDeps {
  /** Google's official clients, acting as the orchestrator. */
  clients: GoogleClients;
  /** The orchestrator's email when its credentials cannot tell (a bare access token). */
  orchestratorEmail?: string;
  /** Route stores by URL scheme; `file` and `gs` are built in. */
  routeStores?: Record<string, RouteStore>;
}

export function createActivities(deps: ActivityDeps) {
  const routeStores: Record<string, RouteStore> = { file: fileRouteStore, gs: gcsRouteStore(deps.clients.storage), ...deps.routeStores };
  return {
    ...createKeyActivities(deps),
    ...createProvisionActivities(deps),
    ...createProbeActivities(deps),
    ...createDualRunActivities(deps),
    ...createTrafficActivities(deps),
    /** Publishes a pipeline's route document; idempotent per generation. */
    async publishRoute(input: { store: string; route: Route }): Promise<PublishOutcome> {
      return publishRouteTo(routeStores, input.store, RouteSchema.parse(input.route));
    },
    /**
     * The time by the clock of the systems keyless measures. Traffic windows are anchored to it,
     * not to workflow time, which a time-skipping test server runs days ahead.
     */
    async cloudTime(): Promise<string> {
      return new Date().toISOString();
    },
    /** Reads a pipeline's current route document, if any. */
    async readRoute(input: { store: string; pipeline: string }): Promise<Route | null> {
      const route = await storeFor(routeStores, input.store).read(routeLocation(input.store, input.pipeline));
      return route ?? null;
    },
  };
}

/** The activity interface workflows proxy; renaming an activity breaks them at compile time. */
export type KeylessActivities = ReturnType<typeof createActivities>;
