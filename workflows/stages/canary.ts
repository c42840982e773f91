// Canary: each step publishes the route at its percent, then bakes while Cloud Monitoring is read
// every analysis interval; Vertex's error rate is judged against the key's (canary-verdict.ts) and
// a breach rolls back. Pause stops the bake clock, promote ends the bake.

import { condition, patched } from '@temporalio/workflow';
import { ErrorType } from '../../contracts/errors';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import type { CanaryAnalysis } from '../../contracts/status';
import { judgeCanary, type CanaryJudgement } from '../canary-verdict';
import { nowIso, type Migration } from '../migration';
import { trafficBetween } from '../traffic-delta';
import { publishRoute, routeTarget } from './route';
import { readTrafficSinceAnchor } from './traffic';

/** Patch: the canary compares against the key over the whole canary when a step has no key traffic, and allows for sampling noise. */
const CANARY_NOISE_MARGIN = 'canary-noise-margin';

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const target = routeTarget({ spec });
  const steps = spec.canary.steps;
  const approval = spec.approvals.cutover ? 'after the cutover approval' : 'without approval (approvals.cutover: false)';
  const current = facts.currentRoute ? ` (store now at ${facts.currentRoute.vertexPercent}%, generation ${facts.currentRoute.generation})` : '';
  return steps.map((step, i) => ({
    stage: 'canary',
    mutation: 'route-published',
    target,
    detail: `${step.percent}% on Vertex`,
    when: `step ${i + 1}/${steps.length}, bake ${step.bake}${i === 0 ? `, ${approval}${current}` : ''}`,
  }));
}

export async function run(m: Migration): Promise<void> {
  const steps = m.spec.canary.steps;
  for (; m.canaryStep < steps.length; m.canaryStep++) {
    m.checkpoint();
    const step = steps[m.canaryStep]!;
    if (m.vertexPercent !== step.percent) await publishRoute(m, step.percent, m.cutoverApprover);
    // With the key already rejected there is no healthy baseline to protect: bake for less.
    const bake = durationMs(step.bake) * (m.repair ? m.spec.canary.repairBakeFactor : 1);
    if (m.bakeRemainingMs === undefined) {
      m.bakeRemainingMs = bake;
      m.facts.stepBaseline = await readTrafficSinceAnchor(m);
    }
    await bakeWatching(m, step.percent);
    m.bakeRemainingMs = undefined;
  }
}

/** Waits out the current bake; pause stops its clock, promote ends it, rollback or a breach aborts it. */
async function bakeWatching(m: Migration, percent: number): Promise<void> {
  const interval = durationMs(m.spec.canary.analysisInterval);
  m.promoteRequested = false;
  while ((m.bakeRemainingMs ?? 0) > 0 && !m.promoteRequested) {
    m.checkpoint();
    if (m.paused) {
      m.bakeEndsAt = undefined;
      m.publishDetails();
      await condition(() => !m.paused || m.rollbackRecord !== undefined);
      continue;
    }
    const started = Date.now();
    const wait = Math.min(interval, m.bakeRemainingMs!);
    m.bakeEndsAt = new Date(started + m.bakeRemainingMs!).toISOString();
    m.publishDetails();
    await condition(() => m.paused || m.promoteRequested || m.rollbackRecord !== undefined, wait);
    m.bakeRemainingMs! -= Date.now() - started;
    m.checkpoint();
    await analyse(m, percent);
    await m.continueAsNewIfHistoryIsLong();
  }
  m.bakeEndsAt = undefined;
  m.checkpoint();
}

/** Compares the service account's error rate with the key's since the step began. */
async function analyse(m: Migration, percent: number): Promise<void> {
  const reading = await readTrafficSinceAnchor(m);
  const traffic = trafficBetween(m.facts.stepBaseline, reading);
  const { minRequests, maxErrorRateDelta } = m.spec.canary;
  let judged: CanaryJudgement;
  if (patched(CANARY_NOISE_MARGIN)) {
    judged = judgeCanary({ vertex: traffic.vertex, keyThisStep: traffic.key, keyWholeCanary: reading.key, repair: m.repair, minRequests, maxErrorRateDelta });
  } else {
    // Histories from before the patch: the key in this step (0 % when rejected), a fixed gate.
    const baseline = m.repair ? { source: 'none' as const, requests: 0, errors: 0, errorRate: 0 } : { source: 'key-this-step' as const, ...pick(traffic.key) };
    const delta = traffic.vertex.errorRate - baseline.errorRate;
    judged = { baseline, delta, allowedDelta: maxErrorRateDelta, verdict: traffic.vertex.requests < minRequests ? 'too-few-requests' : delta > maxErrorRateDelta ? 'breach' : 'healthy' };
  }
  const { baseline, delta, allowedDelta, verdict } = judged;
  const analysis: CanaryAnalysis = {
    step: m.canaryStep + 1,
    percent,
    at: nowIso(),
    key: pick(traffic.key),
    vertex: pick(traffic.vertex),
    delta,
    baseline: { source: baseline.source, errorRate: baseline.errorRate, requests: baseline.requests },
    allowedDelta,
    verdict,
  };
  m.analyses.push(analysis);
  if (verdict === 'breach') {
    const against =
      baseline.source === 'key-this-step'
        ? `the key's ${fmt(baseline.errorRate)}`
        : baseline.source === 'key-whole-canary'
          ? `the key's ${fmt(baseline.errorRate)} over the canary so far`
          : m.repair
            ? '0% (the key is already rejected)'
            : '0% (the key had too few requests to compare with)';
    m.requestRollback({
      reason: `canary step ${analysis.step} (${percent}%): Vertex error rate ${fmt(traffic.vertex.errorRate)} exceeds ${against} by more than ${fmt(allowedDelta)} over ${traffic.vertex.requests} requests`,
      failureType: ErrorType.CanaryBreach,
      at: nowIso(),
    });
    m.checkpoint();
  }
}

function pick(side: { requests: number; errors: number; errorRate: number }) {
  return { requests: side.requests, errors: side.errors, errorRate: side.errorRate };
}

function fmt(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
