// Soak: 100 % on Vertex; the key must see no request for the soak duration, or the migration
// holds (stage `held`) naming who still uses it; and the pipeline's account must be seen calling
// Vertex in that window (soak.minVertexRequests), or the soak waits for a run of the job: a quiet
// key proves nothing when the job did not run. Then, when other pipelines share the key, it waits
// until each of them is at 100 % on Vertex, watching Vertex meanwhile: the key is finalized only
// once nobody needs it.

import { condition, patched } from '@temporalio/workflow';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import { reads } from '../activities';
import { nowIso, type Migration } from '../migration';
import { NO_EMPTY_TIMERS, SOAK_RUN_EVIDENCE, WATCH_GATES } from '../patches';
import { addKeyTraffic, trafficBetween } from '../traffic-delta';
import { readTrafficSinceAnchor } from './traffic';
import { openWatch, watchGate } from './watch';

/** Patch: promote ends the shared-key wait and the wait continues-as-new (histories before it do neither). */
const SHARED_WAIT_PROMOTE = 'shared-wait-promote';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const run = spec.soak.minVertexRequests > 0 ? ` and the pipeline's account must make ${spec.soak.minVertexRequests} Vertex request(s) in it (proof the job ran), or it waits` : '';
  const steps: PlannedStep[] = [{ stage: 'soak', mutation: 'note', target: spec.apiKey, detail: `100% on Vertex for ${spec.soak.duration}: the key must see no request, or the migration holds${run}` }];
  if (facts.key?.sharedWith.length) {
    steps.push({ stage: 'soak', mutation: 'note', target: spec.apiKey, detail: `then waits until ${facts.key.sharedWith.join(', ')} are at 100% on Vertex (they share the key)` });
  }
  return steps;
}

export async function run(m: Migration): Promise<void> {
  if (!m.facts.soakPassed) {
    await (patched(SOAK_RUN_EVIDENCE) ? soakOnEvidence(m) : soak(m));
    m.facts.soakPassed = true;
  }
  await awaitSharingPipelines(m);
}

/**
 * The soak's window lives in the migration's facts, so a wait of days (a held key, a job that has
 * not run) continues as new without starting its window over.
 */
async function soakOnEvidence(m: Migration): Promise<void> {
  const duration = durationMs(m.spec.soak.duration);
  const interval = durationMs(m.spec.canary.analysisInterval);
  const { minVertexRequests } = m.spec.soak;
  if (!m.facts.soakWindow) {
    // A promote left over from the canary must not pass a soak that has not looked.
    m.promoteRequested = false;
    m.facts.soakWindow = { baseline: await readTrafficSinceAnchor(m), since: nowIso(), quietUntil: new Date(Date.now() + duration).toISOString() };
  }
  for (;;) {
    m.checkpoint();
    const window = m.facts.soakWindow;
    const left = Date.parse(window.quietUntil) - Date.now();
    if (left > 0 || !patched(NO_EMPTY_TIMERS)) await condition(() => m.promoteRequested || m.rollbackRecord !== undefined, Math.max(0, left));
    m.checkpoint();
    const reading = await readTrafficSinceAnchor(m);
    const traffic = trafficBetween(window.baseline, reading);
    if (traffic.key.requests > 0) {
      // What the key saw over the whole soak, kept for the report even after the traffic stops.
      m.facts.soak = { ...addKeyTraffic(m.facts.soak, traffic.key), vertexRequests: traffic.vertex.requests };
      // Traffic must stop for a whole soak before finalize; a new window starts now.
      m.facts.soakWindow = { baseline: reading, since: nowIso(), quietUntil: new Date(Date.now() + Math.max(interval, duration)).toISOString() };
    } else {
      m.facts.soak = { ...(m.facts.soak ?? { keyRequests: 0, byMethod: [] }), vertexRequests: traffic.vertex.requests };
      if (traffic.vertex.requests >= minVertexRequests) return passSoak(m);
      // The key is quiet but the job has not run: look again every interval, in the same window.
      window.quietUntil = new Date(Date.now() + interval).toISOString();
    }
    if (m.promoteRequested) {
      // An operator override, recorded in decisions by the promote handler.
      m.acceptPromote();
      return passSoak(m);
    }
    if (traffic.key.requests > 0) {
      if (m.stage !== 'held') m.enter('held');
      m.setWait({ kind: 'key-traffic' });
    } else {
      if (m.stage !== 'soak') m.enter('soak');
      m.setWait({ kind: 'pipeline-run', vertexRequests: traffic.vertex.requests, minVertexRequests, since: window.since });
    }
    await m.continueAsNewIfHistoryIsLong();
  }
}

function passSoak(m: Migration): void {
  m.facts.soakWindow = undefined;
  m.setWait(undefined);
}

/** The soak of migrations recorded before the run-evidence patch: a quiet key alone passes it. */
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
    m.facts.soak = addKeyTraffic(m.facts.soak, traffic.key);
    if (traffic.key.requests === 0) return m.setWait(undefined);
    if (m.promoteRequested) {
      m.promoteRequested = false;
      return m.setWait(undefined);
    }
    if (m.stage !== 'held') m.enter('held');
    m.setWait({ kind: 'key-traffic' });
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
  const watching = patched(WATCH_GATES);
  // Only a promote sent during this wait ends it: one left over from the canary or the soak must
  // not finalize a key other pipelines still use.
  if (promotable) m.promoteRequested = false;
  if (watching) await openWatch(m);
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
      m.acceptPromote();
      return m.setWait(undefined);
    }
    if (watching) {
      await watchGate(m, 'shared-key-wait');
      m.checkpoint();
    }
    if (promotable) await m.continueAsNewIfHistoryIsLong();
  }
}
