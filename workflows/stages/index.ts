// The stage machine as one table: every stage's plan and run, keyed by its name. The order is
// contracts/stages.ts's PIPELINE_STAGES: the workflow's loop walks it, planMigration plans it.

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import { PIPELINE_STAGES, nextStage, type PipelineStage, type Stage } from '../../contracts/stages';
import * as approveCutover from './approve-cutover';
import * as approveFinalize from './approve-finalize';
import * as canary from './canary';
import * as dualRun from './dual-run';
import * as finalize from './finalize';
import * as identity from './identity';
import * as inventory from './inventory';
import * as probe from './probe';
import * as provision from './provision';
import * as soak from './soak';
import type { StageDefinition } from './stage';
import * as stopgap from './stopgap';

export type { StageDefinition } from './stage';

/** Each stage's definition; the compiler refuses a stage without one. */
export const STAGE_DEFINITIONS: { readonly [S in PipelineStage]: StageDefinition } = {
  inventory,
  stopgap,
  provision,
  identity,
  probe,
  'dual-run': dualRun,
  'approve-cutover': approveCutover,
  canary,
  soak,
  'approve-finalize': approveFinalize,
  finalize,
};

/** The pipeline stage a migration in `stage` is running: a held migration is still soaking. */
export function runningStage(stage: Stage): PipelineStage | undefined {
  if (stage === 'held') return 'soak';
  return (PIPELINE_STAGES as readonly string[]).includes(stage) ? (stage as PipelineStage) : undefined;
}

/** The stage a migration enters after `stage` (or after a stage's own choice), passing over stages it does not enter. */
export function stageAfter(stage: PipelineStage, chosen?: Stage): Stage {
  let next: Stage = chosen ?? nextStage(stage);
  for (let candidate = runningStage(next); candidate && next !== 'held' && STAGE_DEFINITIONS[candidate].entered?.() === false; candidate = runningStage(next)) {
    next = nextStage(candidate);
  }
  return next;
}

/** The whole migration's plan, stage by stage in order, from what is known (changes nothing). */
export function planMigration(spec: PipelineSpec, facts: PlanFacts): PlannedStep[] {
  return PIPELINE_STAGES.flatMap((stage) => STAGE_DEFINITIONS[stage].plan(spec, facts));
}
