// Every message a migration understands, declared once: the workflow, the CLI, the tests and the
// Temporal UI use these names. Wire names are stable; renaming one breaks running migrations.

import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { freeText } from './spec';
import { APPROVAL_STAGES } from './stages';
import type { MigrationStatus } from './status';

const person = freeText('by', 200).pipe(z.string().trim().min(1, 'by must name who acts'));
const note = freeText('note', 2_000).optional();

/** Payload of the approve and reject updates. */
export const ApprovalSchema = z.strictObject({
  stage: z.enum(APPROVAL_STAGES, { message: `stage must be one of: ${APPROVAL_STAGES.join(', ')}` }),
  by: person,
  note,
});
export type Approval = z.infer<typeof ApprovalSchema>;

/** What approve and reject answer. */
export interface ApprovalReceipt {
  stage: Approval['stage'];
  decision: 'approved' | 'rejected';
  by: string;
  at: string;
}

/** Payload of the rollback signal. */
export const RollbackRequestSchema = z.strictObject({ by: person, reason: freeText('reason', 2_000).pipe(z.string().trim().min(1)) });
export type RollbackRequest = z.infer<typeof RollbackRequestSchema>;

/** Payload of pause, resume and promote. */
export const OperatorActionSchema = z.strictObject({ by: person.optional(), note });
export type OperatorAction = z.infer<typeof OperatorActionSchema>;

export const approveUpdate = defineUpdate<ApprovalReceipt, [Approval]>('approve');
export const rejectUpdate = defineUpdate<ApprovalReceipt, [Approval]>('reject');
export const pauseSignal = defineSignal<[OperatorAction?]>('pause');
export const resumeSignal = defineSignal<[OperatorAction?]>('resume');
export const promoteSignal = defineSignal<[OperatorAction?]>('promote');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const statusQuery = defineQuery<MigrationStatus>('status');

/** Descriptions shown by the Temporal UI next to each handler. */
export const MESSAGE_DESCRIPTIONS = {
  approve: 'Approve the stage that waits for an operator: {"stage":"cutover"|"finalize","by":"you@example.com","note":"…"}',
  reject: 'Reject the waiting stage; a rejected cutover rolls back, a rejected finalize keeps the key as it is: {"stage","by","note"}',
  pause: 'Stop the canary bake clock (the route stays where it is): {"by":"…"}',
  resume: 'Restart the canary bake clock after a pause: {"by":"…"}',
  promote: 'End the current bake (or a held soak) now and move on; recorded as an operator override: {"by":"…"}',
  rollback: 'Roll the migration back now, in reverse order of what was done: {"by":"…","reason":"…"}',
  status: 'Current stage, canary step and percent, last analysis, mutations so far, and what the migration waits for',
} as const;
