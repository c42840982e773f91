// Reading the key's and the account's traffic since the canary began, by the cloud's clock.

import type { TrafficReport } from '../../contracts/reports';
import { reads } from '../activities';
import type { Migration } from '../migration';

/** Request counts since the canary's anchor (and latencies when asked); the anchor is taken at the first reading. */
export async function readTrafficSinceAnchor(m: Migration, options: { latency?: boolean } = {}): Promise<TrafficReport> {
  m.facts.trafficAnchor ??= await reads.cloudTime();
  return reads.readTraffic({
    project: m.spec.project,
    keyUid: m.facts.keyUid!,
    serviceAccountUniqueId: m.facts.serviceAccountUniqueId!,
    windowStart: m.facts.trafficAnchor,
    ...(options.latency ? { latency: true } : {}),
  });
}
