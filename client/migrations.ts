// Operators' calls on running migrations, shared by the verbs: finding a migration's handle, the
// approve/reject updates, the signals, the status query and the visibility listing.

import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import {
  approveUpdate,
  pauseSignal,
  promoteSignal,
  promoteUpdate,
  rejectUpdate,
  resumeSignal,
  rollbackSignal,
  statusQuery,
  type Approval,
  type ApprovalReceipt,
  type OperatorAction,
  type OperatorReceipt,
  type RollbackRequest,
} from '../contracts/messages';
import { ErrorType } from '../contracts/errors';
import { KeylessPipeline, KeylessProject, KeylessStage, MIGRATE_PIPELINE_WORKFLOW, migrationWorkflowId } from '../contracts/names';
import type { MigrationStatus } from '../contracts/status';
import { stringFlag, type ParsedArgs } from './command';
import { ExitCode, UserError } from './errors';

/** Which migration an operator means: a pipeline, in a project when known. */
export interface MigrationRef {
  pipeline: string;
  project?: string;
}

/** The migration a verb's first argument and --project name. */
export function migrationRef(args: ParsedArgs): MigrationRef {
  return { pipeline: args.positionals[0]!, project: stringFlag(args, 'project') };
}

/** Finds the migration's handle; without a project, looks the pipeline up in Temporal visibility. */
export async function migrationHandle(client: Client, ref: MigrationRef): Promise<WorkflowHandle> {
  if (ref.project) return client.workflow.getHandle(migrationWorkflowId(ref.project, ref.pipeline));
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `KeylessPipeline = "${ref.pipeline.replace(/"/g, '')}"` })) {
    if (!ids.includes(execution.workflowId)) ids.push(execution.workflowId);
    if (ids.length > 1) break;
  }
  if (ids.length === 0) throw new UserError(`no migration found for pipeline ${ref.pipeline}`, ExitCode.Failed, 'pass --project, or check the name with `keyless list`');
  if (ids.length > 1) throw new UserError(`pipeline ${ref.pipeline} has migrations in several projects: ${ids.join(', ')}`, ExitCode.Usage, 'pass --project');
  return client.workflow.getHandle(ids[0]!);
}

/**
 * Sends approve or reject. The workflow refuses a malformed one or one for a stage that does not
 * wait; one from outside the spec's approvers it records, then refuses. Either refusal is shown as is.
 */
export async function sendDecision(client: Client, ref: MigrationRef, decision: 'approve' | 'reject', approval: Approval): Promise<ApprovalReceipt> {
  const handle = await migrationHandle(client, ref);
  try {
    return await handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [approval] });
  } catch (err) {
    throw refused(err, ref, decision);
  }
}

/** An update's refusal as the operator should read it, with where to look and what to do. */
function refused(err: unknown, ref: MigrationRef, verb: string): unknown {
  if (!(err instanceof WorkflowUpdateFailedError)) return notFound(err, ref);
  const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
  const status = `\`keyless status ${ref.pipeline}${ref.project ? ` --project ${ref.project}` : ''}\` shows the refusal`;
  const hint =
    type === ErrorType.ApproverNotAllowed
      ? `ask someone listed in the spec's approvals.approvers; ${status}`
      : type === ErrorType.UnverifiedIdentity
        ? `the worker accepts the audiences in its KEYLESS_APPROVAL_AUDIENCE and tokens issued within KEYLESS_APPROVAL_MAX_TOKEN_AGE; run the command again for a fresh token; ${status}`
        : undefined;
  return new UserError(`${verb} refused: ${err.cause?.message ?? err.message}`, ExitCode.Failed, hint);
}

/**
 * Sends the promote update, checked like approve. A worker from before it has no such update: the
 * promote signal is sent instead (what older keyless did).
 */
export async function sendPromote(client: Client, ref: MigrationRef, action: OperatorAction): Promise<OperatorReceipt | 'signal'> {
  const handle = await migrationHandle(client, ref);
  try {
    return await handle.executeUpdate(promoteUpdate, { args: [action] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && /no registered handler for update/i.test(err.cause?.message ?? err.message)) {
      await handle.signal(promoteSignal, action);
      return 'signal';
    }
    throw refused(err, ref, 'promote');
  }
}

export type OperatorSignal = 'pause' | 'resume' | 'promote';

export async function sendOperatorSignal(client: Client, ref: MigrationRef, verb: OperatorSignal, action: OperatorAction): Promise<void> {
  const handle = await migrationHandle(client, ref);
  const signal = { pause: pauseSignal, resume: resumeSignal, promote: promoteSignal }[verb];
  await handle.signal(signal, action).catch((err) => Promise.reject(notFound(err, ref)));
}

export async function requestRollback(client: Client, ref: MigrationRef, request: RollbackRequest): Promise<void> {
  const handle = await migrationHandle(client, ref);
  await handle.signal(rollbackSignal, request).catch((err) => Promise.reject(notFound(err, ref)));
}

export async function migrationStatus(client: Client, ref: MigrationRef): Promise<MigrationStatus> {
  const handle = await migrationHandle(client, ref);
  return handle.query(statusQuery).catch((err) => Promise.reject(notFound(err, ref)));
}

function notFound(err: unknown, ref: MigrationRef): unknown {
  if (err instanceof WorkflowNotFoundError) {
    return new UserError(`no running migration for pipeline ${ref.pipeline}${ref.project ? ` in ${ref.project}` : ''}`, ExitCode.Failed);
  }
  return err;
}

/** One migration as Temporal visibility lists it. */
export interface MigrationListing {
  workflowId: string;
  pipeline?: string;
  project?: string;
  stage?: string;
  status: string;
  startTime: string;
}

/** Migrations from Temporal visibility, newest first, optionally only those at one stage or still running. */
export async function listMigrations(client: Client, filter: { stage?: string; running?: boolean; limit?: number } = {}): Promise<MigrationListing[]> {
  const clauses = [`WorkflowType = "${MIGRATE_PIPELINE_WORKFLOW}"`];
  if (filter.stage) clauses.push(`KeylessStage = "${filter.stage.replace(/"/g, '')}"`);
  if (filter.running) clauses.push('ExecutionStatus = "Running"');
  const listings: MigrationListing[] = [];
  for await (const execution of client.workflow.list({ query: clauses.join(' AND ') })) {
    const attributes = execution.typedSearchAttributes;
    listings.push({
      workflowId: execution.workflowId,
      pipeline: attributes.get(KeylessPipeline),
      project: attributes.get(KeylessProject),
      stage: attributes.get(KeylessStage),
      status: execution.status.name,
      startTime: execution.startTime.toISOString(),
    });
    if (listings.length >= (filter.limit ?? 1_000)) break;
  }
  return listings;
}
