// One pipeline's move from its API key to Vertex AI with a service account, as a loop over the
// stage machine of ../shared/DESIGN.md. Stages act (stages.ts); the Migration remembers
// (migration.ts). A rollback, asked for by an operator or by a failed stage, unwinds what was done.

import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, upsertSearchAttributes } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import { KeylessPipeline, KeylessProject } from '../contracts/names';
import { validateSpec, type PipelineSpec, type PipelineSpecInput } from '../contracts/spec';
import type { Stage } from '../contracts/stages';
import type { MigrationResult } from '../contracts/status';
import { Migration, RollbackRequested, nowIso, type MigrationMemory } from './migration';
import * as stages from './stages';

/** Migrates one pipeline from its API key to Vertex AI with a service account. */
export async function migratePipeline(input: PipelineSpecInput, memory?: MigrationMemory): Promise<MigrationResult> {
  const spec = parseSpec(input);
  const m = new Migration(spec, memory);
  m.installHandlers();
  upsertSearchAttributes([
    { key: KeylessProject, value: spec.project },
    { key: KeylessPipeline, value: spec.pipeline },
  ]);
  m.enter(m.stage);

  try {
    while (!isTerminal(m.stage)) {
      m.checkpoint();
      await runStage(m);
    }
  } catch (err) {
    const record = rollbackRecordFor(err);
    if (!record) throw err;
    m.requestRollback(record);
  }
  if (m.rollbackRecord && m.stage !== 'rolled-back') await stages.rollback(m);

  // Let in-flight updates answer before the workflow closes.
  await condition(allHandlersFinished);
  return m.result();
}

/** Runs the current stage and moves to the next one. */
async function runStage(m: Migration): Promise<void> {
  const { spec } = m;
  switch (m.stage) {
    case 'inventory':
      await stages.inventory(m);
      return m.enter('stopgap');
    case 'stopgap':
      await stages.stopgap(m);
      return m.enter('provision');
    case 'provision':
      await stages.provision(m);
      return m.enter('probe');
    case 'probe':
      await stages.probe(m);
      return m.enter('dual-run');
    case 'dual-run':
      await stages.dualRun(m);
      return m.enter('approve-cutover');
    case 'approve-cutover':
      if (spec.approvals.cutover) await decideOrRollBack(m, 'cutover');
      return m.enter('canary');
    case 'canary':
      await stages.canary(m);
      return m.enter('soak');
    case 'soak':
    case 'held':
      await stages.soak(m);
      await stages.awaitSharingPipelines(m);
      return m.enter('approve-finalize');
    case 'approve-finalize':
      if (spec.approvals.finalize) {
        const receipt = await m.awaitApproval('finalize');
        // A rejected finalize keeps the pipeline on Vertex and the key as it is: nothing to undo.
        if (receipt.decision === 'rejected') return m.enter('completed');
      }
      return m.enter('finalize');
    case 'finalize':
      await stages.finalize(m);
      await stages.holdRollbackWindow(m);
      return m.enter('completed');
    default:
      throw ApplicationFailure.nonRetryable(`no stage function for ${m.stage}`);
  }
}

/** The cutover approval; a rejection rolls back. */
async function decideOrRollBack(m: Migration, stage: 'cutover'): Promise<void> {
  const receipt = await m.awaitApproval(stage);
  if (receipt.decision === 'rejected') {
    m.requestRollback({ reason: `${stage} rejected by ${receipt.by}`, failureType: 'Rejected', by: receipt.by, at: receipt.at });
    m.checkpoint();
  }
}

function isTerminal(stage: Stage): boolean {
  return stage === 'completed' || stage === 'rolled-back' || stage === 'rolling-back';
}

/** A failure that calls for a rollback: an operator's request, or an activity that failed for good. */
function rollbackRecordFor(err: unknown): { reason: string; failureType?: string; at: string } | undefined {
  if (err instanceof RollbackRequested) return err.record;
  if (err instanceof ActivityFailure) {
    const cause = err.cause as ApplicationFailure | undefined;
    return { reason: `${err.activityType} failed: ${cause?.message ?? err.message}`, failureType: cause?.type ?? ErrorType.Transient, at: nowIso() };
  }
  return undefined;
}

function parseSpec(input: PipelineSpecInput): PipelineSpec {
  const result = validateSpec(input);
  if (result.ok) return result.spec;
  throw ApplicationFailure.create({
    type: ErrorType.InvalidSpec,
    nonRetryable: true,
    message: `invalid pipeline spec: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [result.problems],
  });
}
