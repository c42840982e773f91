// The stage machine of one migration. The order of the stages is written here and nowhere else:
// the workflow's loop walks it (workflows/stages/), `keyless plan` plans it, the CLI and the UI
// show it, and a test holds the README's stage table to it.

/** The stages a migration runs, in order; each has a run and a plan function in workflows/stages/. */
export const PIPELINE_STAGES = [
  'inventory',
  'stopgap',
  'provision',
  'identity',
  'probe',
  'dual-run',
  'approve-cutover',
  'canary',
  'soak',
  'approve-finalize',
  'finalize',
] as const;

export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Every stage a successful migration passes, in order, ending in `completed`. */
export const STAGES = [...PIPELINE_STAGES, 'completed'] as const;

/** Stages outside the happy path: `held` is the soak (or the shared-key wait) while the key still sees traffic. */
export const OFF_PATH_STAGES = ['rolling-back', 'rolled-back', 'held'] as const;

export type Stage = (typeof STAGES)[number] | (typeof OFF_PATH_STAGES)[number];

/** The stage after `stage` on the happy path. */
export function nextStage(stage: PipelineStage): Stage {
  return STAGES[PIPELINE_STAGES.indexOf(stage) + 1]!;
}

/** The points where a migration waits for a person; the `stage` of an approve/reject update. */
export const APPROVAL_STAGES = ['cutover', 'finalize'] as const;
export type ApprovalStage = (typeof APPROVAL_STAGES)[number];

/** How a migration ended. */
export type Outcome = 'completed' | 'rolled-back' | 'held';
