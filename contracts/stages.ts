// The stage machine of one migration, as data: the workflow walks it, the CLI and the UI show it.

/** Every stage a migration can be in, in the order a successful migration passes them. */
export const STAGES = [
  'inventory',
  'stopgap',
  'provision',
  'probe',
  'dual-run',
  'approve-cutover',
  'canary',
  'soak',
  'approve-finalize',
  'finalize',
  'completed',
] as const;

/** Stages outside the happy path. */
export const OFF_PATH_STAGES = ['rolling-back', 'rolled-back', 'held'] as const;

export type Stage = (typeof STAGES)[number] | (typeof OFF_PATH_STAGES)[number];

/** The points where a migration waits for a person; the `stage` of an approve/reject update. */
export const APPROVAL_STAGES = ['cutover', 'finalize'] as const;
export type ApprovalStage = (typeof APPROVAL_STAGES)[number];

/** How a migration ended. */
export type Outcome = 'completed' | 'rolled-back' | 'held';
