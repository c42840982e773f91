// What a canary step asks for before it advances (its bake, its evidence, how long it may wait for
// it) and how long that takes at a pipeline's volume, as pure functions: the workflow runs each step
// by these rules and `keyless plan` estimates from the same ones.

import { formatDuration } from '../contracts/duration';
import { DEFAULT_EVIDENCE_ONLY_MAX_BAKE, DEFAULT_MAX_BAKE_FACTOR, durationMs, type PipelineSpec } from '../contracts/spec';

/** One step's rules, resolved from the step and the canary's defaults. */
export interface StepRule {
  /** 1-based. */
  step: number;
  of: number;
  percent: number;
  /** The least time the step runs (shortened in a repair); 0 for a step defined by its evidence alone. */
  bakeMs: number;
  /** Past this much baking without its evidence, the step waits for an operator. */
  maxBakeMs: number;
  /** Vertex requests it must judge; 0: its bake alone. */
  minRequests: number;
}

export function stepRule(spec: PipelineSpec, index: number, repair = false): StepRule {
  const steps = spec.canary.steps;
  const step = steps[index]!;
  const bake = step.bake === undefined ? 0 : durationMs(step.bake);
  const bakeMs = repair ? bake * spec.canary.repairBakeFactor : bake;
  const maxBake = step.maxBake ?? spec.canary.maxBake;
  const maxBakeMs = maxBake !== undefined ? durationMs(maxBake) : step.bake !== undefined ? bake * DEFAULT_MAX_BAKE_FACTOR : durationMs(DEFAULT_EVIDENCE_ONLY_MAX_BAKE);
  return { step: index + 1, of: steps.length, percent: step.percent, bakeMs, maxBakeMs: Math.max(maxBakeMs, bakeMs), minRequests: step.minRequests ?? spec.canary.minRequests };
}

/** The pipeline's requests (key and Vertex together) over a recent window, as Monitoring counted them. */
export interface ObservedVolume {
  requests: number;
  windowMs: number;
}

/** How long a step takes at an observed volume. */
export interface StepEstimate {
  /** Vertex requests an hour the step's percent gives. */
  vertexPerHour: number;
  /** Until it has its evidence; Infinity when the pipeline sends nothing. */
  evidenceMs: number;
  /** Until it advances on its own: the longer of its bake and its evidence. */
  expectedMs: number;
  /** It gathers its evidence within maxBake; otherwise it will wait for an operator. */
  withinMaxBake: boolean;
}

/**
 * The expected time to a step's evidence at the pipeline's average volume. A job routes whole runs,
 * so an hourly job at 10 % sends a run to Vertex every ten hours on average: this is an average,
 * and a step sized at its edge may still wait.
 */
export function estimateStep(rule: StepRule, volume: ObservedVolume): StepEstimate {
  const perHour = volume.windowMs > 0 ? (volume.requests / volume.windowMs) * 3_600_000 : 0;
  const vertexPerHour = perHour * (rule.percent / 100);
  const evidenceMs = rule.minRequests === 0 ? 0 : vertexPerHour > 0 ? (rule.minRequests / vertexPerHour) * 3_600_000 : Infinity;
  const expectedMs = Math.max(rule.bakeMs, evidenceMs);
  return { vertexPerHour, evidenceMs, expectedMs, withinMaxBake: rule.minRequests === 0 || evidenceMs <= rule.maxBakeMs };
}

/** "~3h20m", or "never" when nothing arrives. */
export function formatEstimate(ms: number): string {
  return Number.isFinite(ms) ? `~${formatDuration(ms)}` : 'never (no traffic)';
}
