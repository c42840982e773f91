// Canary: each step publishes the route at its percent, then bakes while Cloud Monitoring is read
// every analysis interval. A step advances on evidence: its bake passed and it judged at least
// minRequests Vertex requests, healthy (canary-verdict.ts: a broken identity at once, server
// errors, quota and latency against the key). Without the evidence it bakes on up to maxBake, then
// waits for an operator, still judging what comes. A breach rolls back; pause stops the bake
// clock; promote accepts the step on the evidence it has.

import { ActivityFailure, condition, log, patched } from '@temporalio/workflow';
import { ErrorType } from '../../contracts/errors';
import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { TrafficReport } from '../../contracts/reports';
import { durationMs, type PipelineSpec } from '../../contracts/spec';
import type { AnalysisPhase, CanaryAnalysis, StepAdvance, StepEvidence } from '../../contracts/status';
import { formatDuration } from '../../contracts/duration';
import { reads } from '../activities';
import { estimateStep, formatEstimate, stepRule, type StepRule } from '../canary-evidence';
import { judgeCanary, judgeEvidence, type CanaryJudgement, type EvidenceJudgement } from '../canary-verdict';
import { nowIso, type Migration } from '../migration';
import { countCanaryVerdict } from '../metrics';
import { CANARY_EVIDENCE } from '../patches';
import { trafficBetween } from '../traffic-delta';
import { publishRoute, routeTarget } from './route';
import { readTrafficSinceAnchor } from './traffic';

/** Patch: the canary compares against the key over the whole canary when a step has no key traffic, and allows for sampling noise. */
const CANARY_NOISE_MARGIN = 'canary-noise-margin';

/** How far back the key's traffic before the canary is read as a baseline: a daily job's seven runs, a weekly job's one. */
const KEY_BASELINE_WINDOW_MS = 7 * 24 * 3_600_000;

export function plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  const target = routeTarget({ spec });
  const steps = spec.canary.steps;
  const approval = spec.approvals.cutover ? 'after the cutover approval' : 'without approval (approvals.cutover: false)';
  const current = facts.currentRoute ? ` (store now at ${facts.currentRoute.vertexPercent}%, generation ${facts.currentRoute.generation})` : '';
  const volume = facts.observedVolume;
  const planned: PlannedStep[] = [];
  steps.forEach((step, i) => {
    const rule = stepRule(spec, i);
    const asks = rule.minRequests > 0 ? `${rule.minRequests} Vertex requests` : 'no evidence (minRequests: 0)';
    const bake = step.bake ? `bake ${step.bake}` : 'no bake';
    const estimate = volume ? estimateStep(rule, volume) : undefined;
    const expected = estimate ? `, expected ${formatEstimate(estimate.expectedMs)} at ${estimate.vertexPerHour.toFixed(1)} Vertex requests/h` : '';
    planned.push({
      stage: 'canary',
      mutation: 'route-published',
      target,
      detail: `${step.percent}% on Vertex`,
      when: `step ${i + 1}/${steps.length}, ${bake}, until ${asks} (at most ${formatDuration(rule.maxBakeMs)}, then waits for promote)${expected}${i === 0 ? `, ${approval}${current}` : ''}`,
    });
    if (estimate && !estimate.withinMaxBake) {
      const perHour = volume!.windowMs > 0 ? (volume!.requests / volume!.windowMs) * 3_600_000 : 0;
      planned.push({
        stage: 'canary',
        mutation: 'warning',
        target,
        detail:
          `step ${i + 1} (${step.percent}%) needs ${rule.minRequests} Vertex requests: at the pipeline's ${perHour.toFixed(2)} requests/h over the last ${formatDuration(volume!.windowMs)} ` +
          `that takes ${formatEstimate(estimate.evidenceMs)}, past its maxBake ${formatDuration(rule.maxBakeMs)}; it will wait for promote. ` +
          'Size it for the volume: a higher percent, fewer minRequests, or a longer maxBake (docs/operator-guide.md, "Sizing a daily job")',
      });
    }
  });
  return planned;
}

export async function run(m: Migration): Promise<void> {
  const steps = m.spec.canary.steps;
  const onEvidence = patched(CANARY_EVIDENCE);
  if (onEvidence) await readKeyBeforeCanary(m);
  for (; m.canaryStep < steps.length; m.canaryStep++) {
    m.checkpoint();
    const step = steps[m.canaryStep]!;
    if (m.vertexPercent !== step.percent) await publishRoute(m, step.percent, m.cutoverApprover);
    if (onEvidence) {
      await runStepOnEvidence(m, stepRule(m.spec, m.canaryStep, m.repair));
    } else {
      // With the key already rejected there is no healthy baseline to protect: bake for less.
      const bake = durationMs(step.bake ?? '0s') * (m.repair ? m.spec.canary.repairBakeFactor : 1);
      if (m.bakeRemainingMs === undefined) {
        m.bakeRemainingMs = bake;
        m.facts.stepBaseline = await readTrafficSinceAnchor(m);
      }
      await bakeWatching(m, step.percent);
    }
    m.bakeRemainingMs = undefined;
  }
  m.stepEvidence = undefined;
}

/** The key's traffic over the week before the canary, once: what a step that leaves the key no traffic is held against. */
async function readKeyBeforeCanary(m: Migration): Promise<void> {
  if (m.facts.keyBeforeCanary || m.repair) return;
  m.facts.trafficAnchor ??= await reads.cloudTime();
  const end = Date.parse(m.facts.trafficAnchor);
  const before = await reads.readTraffic({
    project: m.spec.project,
    keyUid: m.facts.keyUid!,
    serviceAccountUniqueId: m.facts.serviceAccountUniqueId!,
    windowStart: new Date(end - KEY_BASELINE_WINDOW_MS).toISOString(),
    windowEnd: m.facts.trafficAnchor,
    latency: true,
  });
  m.facts.keyBeforeCanary = before.key;
}

/**
 * One step, run on evidence. `bakeRemainingMs` counts the bake down and on below zero while the
 * step waits for its evidence, so what it has baked survives pause and continue-as-new.
 */
async function runStepOnEvidence(m: Migration, rule: StepRule): Promise<void> {
  const interval = durationMs(m.spec.canary.analysisInterval);
  if (m.bakeRemainingMs === undefined) {
    m.bakeRemainingMs = rule.bakeMs;
    // A promote sent before this step (during the last one, or the approval) is not for it.
    m.promoteRequested = false;
    m.facts.stepBaseline = await readTrafficSinceAnchor(m, { latency: true });
    m.canarySteps.push({ step: rule.step, percent: rule.percent, startedAt: nowIso(), vertexRequests: 0, minRequests: rule.minRequests, bakedMs: 0 });
  }
  for (;;) {
    m.checkpoint();
    const baked = rule.bakeMs - m.bakeRemainingMs!;
    const evidence = stepEvidence(m, rule, baked);
    m.stepEvidence = { vertexRequests: evidence.vertexRequests, minRequests: rule.minRequests, bakeDone: baked >= rule.bakeMs, bakedMs: baked, waitsUntil: new Date(Date.now() + Math.max(0, rule.maxBakeMs - baked)).toISOString() };
    if (m.promoteRequested) return endStep(m, 'promote', evidence);
    if (baked >= rule.bakeMs) {
      if (m.repair) return endStep(m, 'repair', evidence);
      if (rule.minRequests === 0) return endStep(m, 'time', evidence);
      if (evidence.verdict === 'healthy' && evidence.vertexRequests >= rule.minRequests) return endStep(m, 'evidence', evidence);
      if (baked >= rule.maxBakeMs) awaitEvidence(m, rule, evidence);
    }
    if (m.paused) {
      m.bakeEndsAt = undefined;
      m.publishDetails();
      await condition(() => !m.paused || m.promoteRequested || m.rollbackRecord !== undefined);
      continue;
    }
    const started = Date.now();
    // Wake at the end of the bake and at maxBake too, so each is acted on when it comes.
    const wait = Math.min(interval, ...[rule.bakeMs - baked, rule.maxBakeMs - baked].filter((ms) => ms > 0));
    m.bakeEndsAt = baked < rule.bakeMs ? new Date(started + rule.bakeMs - baked).toISOString() : undefined;
    m.publishDetails();
    await condition(() => m.paused || m.promoteRequested || m.rollbackRecord !== undefined, wait);
    m.bakeRemainingMs! -= Date.now() - started;
    m.checkpoint();
    await analyseStep(m, rule, baked >= rule.maxBakeMs ? 'evidence-wait' : 'bake');
    if (!m.promoteRequested) await m.continueAsNewIfHistoryIsLong();
  }
}

/** What the step has judged so far: its latest analysis. */
function stepEvidence(m: Migration, rule: StepRule, bakedMs: number): StepEvidence {
  const last = m.analyses.at(-1);
  const mine = last && last.step === rule.step && (last.phase === 'bake' || last.phase === 'evidence-wait') ? last : undefined;
  return { step: rule.step, percent: rule.percent, vertexRequests: mine?.vertex.requests ?? 0, minRequests: rule.minRequests, bakedMs: Math.max(0, bakedMs), ...(mine ? { verdict: mine.verdict } : {}) };
}

/** The step is past maxBake without its evidence: say what is missing where operators look. */
function awaitEvidence(m: Migration, rule: StepRule, evidence: StepEvidence): void {
  const record = m.canarySteps.at(-1)!;
  record.evidenceWaitSince ??= nowIso();
  m.setWait({ kind: 'canary-evidence', step: rule.step, of: rule.of, percent: rule.percent, vertexRequests: evidence.vertexRequests, minRequests: rule.minRequests, bakedMs: evidence.bakedMs, since: record.evidenceWaitSince });
}

/** Closes the step's record with why it moved on; a promote is recorded with the evidence it accepted. */
function endStep(m: Migration, how: StepAdvance, evidence: StepEvidence): void {
  const record = m.canarySteps.at(-1)!;
  const promote = how === 'promote' ? m.acceptPromote(evidence) : undefined;
  Object.assign(record, evidence, { endedAt: nowIso(), advancedBy: how, ...(promote ? { by: promote.by } : {}) });
  if (m.wait?.kind === 'canary-evidence') m.setWait(undefined);
  m.bakeEndsAt = undefined;
  m.stepEvidence = undefined;
}

/** Judges the step so far: Vertex against the key, by class and latency, since the step began. */
async function analyseStep(m: Migration, rule: StepRule, phase: AnalysisPhase): Promise<void> {
  let reading;
  try {
    reading = await readTrafficSinceAnchor(m, { latency: true });
  } catch (err) {
    // Waiting on an operator for days, an unreadable Monitoring is no reason to undo the
    // migration: nothing is judged, so nothing advances. During the bake, it is reported as before.
    if (phase === 'bake' || !(err instanceof ActivityFailure)) throw err;
    log.warn('canary analysis skipped: Monitoring could not be read', { step: rule.step, error: err.message });
    return;
  }
  const judged = judgeWindow(m, m.facts.stepBaseline, reading, rule.minRequests);
  recordJudgement(m, { step: rule.step, percent: rule.percent, phase, minRequests: rule.minRequests }, judged, `canary step ${rule.step} (${rule.percent}%)`);
}

/** Judges Vertex over the window from `start` to `reading` by the spec's tolerances, against the key's baselines. */
export function judgeWindow(m: Migration, start: TrafficReport | undefined, reading: TrafficReport, minRequests: number): EvidenceJudgement {
  const traffic = trafficBetween(start, reading);
  return judgeEvidence({
    vertex: traffic.vertex,
    keyThisStep: traffic.key,
    keyWholeCanary: reading.key,
    ...(m.facts.keyBeforeCanary ? { keyBeforeCanary: m.facts.keyBeforeCanary } : {}),
    repair: m.repair,
    minRequests,
    maxErrorRateDelta: m.spec.canary.maxErrorRateDelta,
    maxLatencyRatio: m.spec.canary.maxLatencyRatio,
  });
}

/** Records an analysis on evidence and, on a breach, asks for the rollback, naming what broke. */
export function recordJudgement(m: Migration, where: { step: number; percent: number; phase: AnalysisPhase; minRequests: number }, judged: EvidenceJudgement, context: string): CanaryAnalysis {
  const analysis: CanaryAnalysis = {
    step: where.step,
    percent: where.percent,
    at: nowIso(),
    phase: where.phase,
    key: judged.key,
    vertex: judged.vertex,
    delta: judged.delta,
    baseline: { source: judged.baseline.source, errorRate: judged.baseline.errorRate, requests: judged.baseline.requests },
    allowedDelta: judged.allowedDelta,
    verdict: judged.verdict,
    ...(judged.breach ? { breach: judged.breach } : {}),
    classes: judged.classes,
    quota: judged.quota,
    latency: judged.latency,
    minRequests: where.minRequests,
    historyLength: m.historyLength(),
  };
  m.recordAnalysis(analysis);
  if (judged.verdict === 'breach') {
    m.requestRollback({ reason: `${context}: ${breachReason(m, judged)}`, failureType: ErrorType.CanaryBreach, at: nowIso() });
    m.checkpoint();
  }
  return analysis;
}

function breachReason(m: Migration, judged: EvidenceJudgement): string {
  const v = judged.classes.vertex;
  switch (judged.breach) {
    case 'identity':
      return `Vertex refused the pipeline's account (${v.identity} responses 401/403): a broken identity, rolled back without waiting for statistics`;
    case 'quota':
      return `Vertex answered 429 (quota) to ${fmt(judged.quota.vertexRate)} of ${judged.vertex.requests} requests against ${fmt(judged.quota.baselineRate)} on the key, past the allowed ${fmt(judged.quota.allowedDelta)}`;
    case 'latency': {
      const l = judged.latency;
      return `Vertex latency ${l.ratio}× the key's (p50 ${l.vertex.p50Ms} ms against ${l.baseline.p50Ms} ms over ${l.vertex.count} and ${l.baseline.count} requests), past the tolerated ${l.maxRatio}× by z = ${l.z}`;
    }
    default:
      return `Vertex error rate ${fmt(judged.vertex.errorRate)} exceeds ${against(m, judged.baseline)} by more than ${fmt(judged.allowedDelta)} over ${judged.vertex.requests} requests`;
  }
}

function against(m: Migration, baseline: { source: string; errorRate: number }): string {
  switch (baseline.source) {
    case 'key-this-step':
      return `the key's ${fmt(baseline.errorRate)}`;
    case 'key-whole-canary':
      return `the key's ${fmt(baseline.errorRate)} over the canary so far`;
    case 'key-before-canary':
      return `the key's ${fmt(baseline.errorRate)} in the week before the canary`;
    default:
      return m.repair ? '0% (the key is already rejected)' : '0% (the key had too few requests to compare with)';
  }
}

/** Waits out the current bake; pause stops its clock, promote ends it, rollback or a breach aborts it. Runs migrations from before the evidence patch. */
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

/** Compares the service account's error rate with the key's since the step began (before the evidence patch). */
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
  countCanaryVerdict(verdict);
  if (verdict === 'breach') {
    m.requestRollback({
      reason: `canary step ${analysis.step} (${percent}%): Vertex error rate ${fmt(traffic.vertex.errorRate)} exceeds ${against(m, baseline)} by more than ${fmt(allowedDelta)} over ${traffic.vertex.requests} requests`,
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
