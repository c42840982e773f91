// What every stage of the machine is: a pure plan over read-only facts, and a run that acts through
// activities and records what it changed (with its undo) on the Migration.

import type { PlanFacts, PlannedStep } from '../../contracts/plan';
import type { PipelineSpec } from '../../contracts/spec';
import type { Stage } from '../../contracts/stages';
import type { Migration } from '../migration';

export interface StageDefinition {
  /** What the stage would change, given what is known: `keyless plan` prints it, the run records it. */
  plan(spec: PipelineSpec, facts: PlanFacts): PlannedStep[];
  /** Runs the stage; answers the stage to go to when it is not the next one in order. */
  run(m: Migration): Promise<Stage | void>;
  /**
   * Whether the migration enters this stage; absent: always. A stage added to the machine answers
   * false when replaying a history recorded before it existed (a patch), so that history replays.
   */
  entered?(): boolean;
}
