// Soak: 100 % on Vertex; the key must see no request for the soak duration, or the migration
// holds (stage `held`) naming who still uses it. Then, when other pipelines share the key, it
// waits until each of them is at 100 % on Vertex: the key is finalized only once nobody needs it.

import { condition, patched } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import { reads } from '../activities';
import type { Migration } from '../migration';
import { addKeyTraffic, trafficBetween } from '../traffic-delta';
import { readTrafficSinceAnchor } from './traffic';

/** Patch: promote ends the shared-key wait and the wait continues-as-new (histories before it do neither). */
const SHARED_WAIT_PROMOTE = 'shared-wait-promote';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const steps: PlannedStep[] = [{ stage: 'soak', mutation: 'note', target: spec.apiKey, detail: `100% on Vertex for ${spec.soak.duration}: the key must see no request, or the migration holds` }];
  if (facts.key?.sharedWith.length) {
    steps.push({ stage: 'soak', mutation: 'note', target: spec.apiKey, detail: `then waits until ${facts.key.sharedWith.join(', ')} are at 100% on Vertex (they share the key)` });
  }
  return steps;
}

export async function run(m: Migration): Promise<void> {
  if (!m.facts.soakPassed) {
    await soak(m);
    m.facts.soakPassed = true;
  }
  await awaitSharingPipelines(m);
}

async function soak(m: Migration): Promise<void> {
  const duration = durationMs(m.spec.soak.duration);
  const interval = durationMs(m.spec.canary.analysisInterval);
  let baseline = await readTrafficSinceAnchor(m);
  let quietUntil = Date.now() + duration;
  for (;;) {
    m.checkpoint();
    await condition(() => m.promoteRequested || m.rollbackRecord !== undefined, Math.max(0, quietUntil - Date.now()));
    m.checkpoint();
    const reading = await readTrafficSinceAnchor(m);
    const traffic = trafficBetween(baseline, reading);
    // What the key saw over the whole soak, kept for the report even after the traffic stops.
    m.facts.soak = addKeyTraffic(m.facts.soak, traffic.key);
    if (traffic.key.requests === 0) return m.setWait(undefined);
    if (m.promoteRequested) {
      // An operator override, recorded in decisions by the promote handler.
      m.promoteRequested = false;
      return m.setWait(undefined);
    }
    if (m.stage !== 'held') m.enter('held');
    m.setWait({ kind: 'key-traffic' });
    // Traffic must stop for a whole soak duration before finalize; look again every interval.
    baseline = reading;
    quietUntil = Date.now() + Math.max(interval, duration);
    await m.continueAsNewIfHistoryIsLong();
  }
}

/** Two pipelines sharing a key: the key is finalized only once every one of them is on Vertex, or an operator promotes. */
async function awaitSharingPipelines(m: Migration): Promise<void> {
  const others = (m.facts.sharedWith ?? []).filter((p) => p !== m.spec.pipeline);
  if (others.length === 0) return;
  const interval = durationMs(m.spec.canary.analysisInterval);
  const promotable = patched(SHARED_WAIT_PROMOTE);
  // Only a promote sent during this wait ends it: one left over from the canary or the soak must
  // not finalize a key other pipelines still use.
  if (promotable) m.promoteRequested = false;
  for (;;) {
    const routes = await Promise.all(others.map((pipeline) => reads.readRoute({ store: m.spec.route.store, pipeline, project: m.spec.project })));
    const behind = others.filter((_, i) => (routes[i]?.vertexPercent ?? 0) < 100);
    if (behind.length === 0) return m.setWait(undefined);
    if (m.stage !== 'held') m.enter('held');
    m.setWait({ kind: 'sharing-pipelines', pipelines: behind });
    await condition(() => m.rollbackRecord !== undefined || (promotable && m.promoteRequested), interval);
    m.checkpoint();
    if (promotable && m.promoteRequested) {
      // An operator override, recorded in decisions by the promote handler (stage `held`).
      m.promoteRequested = false;
      return m.setWait(undefined);
    }
    if (promotable) await m.continueAsNewIfHistoryIsLong();
  }
}
