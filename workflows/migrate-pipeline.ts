// One pipeline's move from its API key to Vertex AI with a service account: a loop over the stage
// machine (contracts/stages.ts for the order, stages/ for each stage). Stages act; the Migration
// remembers (migration.ts). A rollback, asked for by an operator or by a failed stage, unwinds what
// was done (rollback.ts).

import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, upsertSearchAttributes } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import { KeylessPipeline, KeylessProject } from '../contracts/names';
import { validateSpec, type PipelineSpec, type PipelineSpecInput } from '../contracts/spec';
import type { MigrationResult, RollbackRecord } from '../contracts/status';
import { Migration, RollbackRequested, nowIso, type MigrationMemory } from './migration';
import { rollback } from './rollback';
import { legacyUndos } from './rollback-legacy';
import { STAGE_DEFINITIONS, runningStage, stageAfter } from './stages';

/** Migrates one pipeline from its API key to Vertex AI with a service account. */
export async function migratePipeline(input: PipelineSpecInput, memory?: MigrationMemory): Promise<MigrationResult> {
  const spec = parseSpec(input);
  const m = new Migration(spec, memory, (old) => legacyUndos(old, spec));
  m.installHandlers();
  upsertSearchAttributes([
    { key: KeylessProject, value: spec.project },
    { key: KeylessPipeline, value: spec.pipeline },
  ]);
  m.enter(m.stage);

  try {
    for (let stage = runningStage(m.stage); stage; stage = runningStage(m.stage)) {
      m.checkpoint();
      const chosen = await STAGE_DEFINITIONS[stage].run(m);
      m.enter(stageAfter(stage, chosen ?? undefined));
    }
  } catch (err) {
    const record = rollbackRecordFor(err);
    if (!record) throw err;
    m.requestRollback(record);
  }
  if (m.rollbackRecord && m.stage !== 'rolled-back') await rollback(m);

  // Let in-flight updates answer before the workflow closes.
  await condition(allHandlersFinished);
  return m.result();
}

/** A failure that calls for a rollback: an operator's request, or an activity that failed for good. */
function rollbackRecordFor(err: unknown): RollbackRecord | undefined {
  if (err instanceof RollbackRequested) return err.record;
  if (err instanceof ActivityFailure) {
    const cause = err.cause as ApplicationFailure | undefined;
    return { reason: `${err.activityType} failed: ${cause?.message ?? err.message}`, failureType: taxonomyType(cause?.type), at: nowIso() };
  }
  return undefined;
}

/** The failure's type when it is one of the taxonomy's; anything else is reported as Transient. */
function taxonomyType(type: string | undefined | null): ErrorType {
  return (Object.values(ErrorType) as string[]).includes(type ?? '') ? (type as ErrorType) : ErrorType.Transient;
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

