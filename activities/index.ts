// The activities of a migration, built from the clients they use. The worker passes clients
// pointed at Google or at the emulator (one configuration decides, google/endpoints.ts); workflows
// see only the contract (contracts/activities.ts), which this factory must satisfy.

import type { KeylessActivities } from '../contracts/activities';
import type { GoogleClients } from '../google/clients';
import type { IdTokenPolicy } from '../google/id-tokens';
import { readTraffic } from '../google/monitoring';
import { builtInRouteStores, type RouteStore } from '../route-store';
import { createDualRunActivities } from './dual-run';
import { withFailures } from './failures';
import { createIdTokenActivities } from './id-tokens';
import { createIdentityActivities } from './identity';
import { createKeyActivities } from './keys';
import { createProbeActivities } from './probe';
import { createProvisionActivities } from './provision';
import { createRouteActivities } from './routes';

export type { KeylessActivities } from '../contracts/activities';

/** What the activities need from the outside world. */
export interface ActivityDeps {
  /** Google's official clients, acting as the orchestrator. */
  clients: GoogleClients;
  /** The orchestrator's email when its credentials cannot tell (a bare access token). */
  orchestratorEmail?: string;
  /** Route stores by URL scheme; `file` and `gs` are built in. */
  routeStores?: Record<string, RouteStore>;
  /** Which Google ID tokens prove an operator (worker/config.ts idTokenPolicyFromEnv); default DEFAULT_ID_TOKEN_POLICY. */
  idTokens?: IdTokenPolicy;
}

export function createActivities(deps: ActivityDeps): KeylessActivities {
  const { clients } = deps;
  const activities: KeylessActivities = {
    ...createKeyActivities(clients),
    ...createProvisionActivities(clients, deps.orchestratorEmail),
    ...createIdentityActivities(clients),
    ...createProbeActivities({ clients }),
    ...createDualRunActivities({ clients }),
    readTraffic: (input) => readTraffic(clients, input),
    ...createIdTokenActivities(clients, deps.idTokens),
    ...createRouteActivities({ ...builtInRouteStores(() => clients.storage), ...deps.routeStores }),
  };
  return withFailures(activities);
}
