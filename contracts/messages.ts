// Every message a migration understands, declared once: the workflow, the CLI, the tests and the
// Temporal UI use these names. Wire names are stable; renaming one breaks running migrations.

import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { IdTokenSchema } from './identity';
import { freeText } from './spec';
import { APPROVAL_STAGES } from './stages';
import type { MigrationStatus } from './status';

const person = freeText('by', 200).pipe(z.string().trim().min(1, 'by must name who acts'));
const note = freeText('note', 2_000).optional();

/** Who acts: a name as typed (unverified), or a Google ID token whose email becomes `by`; never both. */
const oneIdentity = <T extends { by?: string; idToken?: string }>(value: T, ctx: z.RefinementCtx) => {
  if (value.by !== undefined && value.idToken !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['by'], message: 'by is taken from idToken: give one or the other, not both' });
  }
};

/**
 * Payload of the approve and reject updates: `{stage, idToken, note}` where approvals are verified
 * (the approver is whoever the token proves), `{stage, by, note}` where they are not.
 */
export const ApprovalSchema = z
  .strictObject({
    stage: z.enum(APPROVAL_STAGES, { message: `stage must be one of: ${APPROVAL_STAGES.join(', ')}` }),
    by: person.optional(),
    /** A Google ID token of the approver (`keyless approve` gets one; `--print-payload` prints one to paste). */
    idToken: IdTokenSchema.optional(),
    note,
  })
  .superRefine(oneIdentity)
  .refine((a) => a.by !== undefined || a.idToken !== undefined, { path: ['by'], message: 'by must name who acts, or idToken must prove it (keyless approve adds one)' });
export type Approval = z.infer<typeof ApprovalSchema>;

/** What approve and reject answer. */
export interface ApprovalReceipt {
  stage: Approval['stage'];
  decision: 'approved' | 'rejected';
  by: string;
  at: string;
  /** true: `by` is the email a Google ID token proved; false: typed by the caller (approvals.verify none). */
  verified?: boolean;
}

/** Payload of the rollback signal; with `idToken`, the caller it proves is recorded beside `by`. */
export const RollbackRequestSchema = z.strictObject({ by: person, reason: freeText('reason', 2_000).pipe(z.string().trim().min(1)), idToken: IdTokenSchema.optional() });
export type RollbackRequest = z.infer<typeof RollbackRequestSchema>;

/** Payload of pause, resume and promote (signals and the promote update). */
export const OperatorActionSchema = z.strictObject({ by: person.optional(), note, idToken: IdTokenSchema.optional() }).superRefine(oneIdentity);
export type OperatorAction = z.infer<typeof OperatorActionSchema>;

/** What the promote update answers. */
export interface OperatorReceipt {
  action: 'promote';
  stage: string;
  by: string;
  verified: boolean;
  at: string;
}

export const approveUpdate = defineUpdate<ApprovalReceipt, [Approval]>('approve');
export const rejectUpdate = defineUpdate<ApprovalReceipt, [Approval]>('reject');
export const pauseSignal = defineSignal<[OperatorAction?]>('pause');
export const resumeSignal = defineSignal<[OperatorAction?]>('resume');
export const promoteSignal = defineSignal<[OperatorAction?]>('promote');
/** promote as an update, so a Google ID token can be checked and a refusal answered; same wire name as the signal. */
export const promoteUpdate = defineUpdate<OperatorReceipt, [OperatorAction]>('promote');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const statusQuery = defineQuery<MigrationStatus>('status');

/** Descriptions shown by the Temporal UI next to each handler. */
export const MESSAGE_DESCRIPTIONS = {
  approve:
    'Approve the stage that waits for an operator. Verified approvals (approvals.verify google-id-token): paste the output of `keyless approve <pipeline> --stage <stage> --print-payload`, {"stage":"cutover"|"finalize","idToken":"<Google ID token>","note":"…"}; the approver is whoever the token proves. Unverified (verify none): {"stage","by":"you@example.com","note"}',
  reject: 'Reject the waiting stage; a rejected cutover rolls back, a rejected finalize keeps the key as it is: {"stage","idToken","note"} (verified; `keyless reject --print-payload`) or {"stage","by","note"} (unverified)',
  pause: 'Stop the canary bake clock (the route stays where it is); open to anyone: {"by":"…"}, and with "idToken" the verified caller is recorded',
  resume: 'Restart the canary bake clock after a pause: {"by":"…"} (optionally "idToken")',
  promote:
    'Signal: accept the current canary step on the evidence it has (or override a held soak, a soak that saw no run, or the wait for pipelines sharing the key), recorded with the evidence it accepted: {"by":"…","note":"…"}. Acts only where approvals.verify is none; where it is google-id-token a promote signal is recorded and ignored: send the promote update instead',
  promoteUpdate:
    'Accept the current canary step on the evidence it has (or override a held soak, a soak that saw no run, or the shared-key wait), recorded with the evidence it accepted; checked like approve: {"idToken":"<keyless promote --print-payload>","note":"…"} where approvals are verified, {"by":"…"} where not',
  rollback: 'Roll the migration back now, in reverse order of what was done; open to anyone: {"by":"…","reason":"…"}, and with "idToken" the verified caller is recorded',
  status: 'Current stage, canary step and percent, last analysis, mutations so far, and what the migration waits for',
} as const;
